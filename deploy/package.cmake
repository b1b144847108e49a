# Installation and the Debian package (issue #17):
#   cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=Release -DTUTTI_PACKAGE=ON -DTUTTI_TESTS=OFF
#   cmake --build build-pkg -j2 --target package   ->  build-pkg/tutti_VERSION-1_amd64.deb
# Only the programs, their units, the count-off words, docs and examples are
# installed: test tools, fuzzers and benches have no install() rule.
# Included last from the top-level CMakeLists.txt, so every program target exists.
include(GNUInstallDirs)

set(tutti_programs tutti tutti-coordinator tutti-agent tutti-dash)
set(tutti_units tutti-coordinator.service tutti-agent@.service tutti-dash.service)
if(TARGET tutti-relay)
  list(APPEND tutti_programs tutti-relay)
  list(APPEND tutti_units tutti-relay.service)
endif()
install(TARGETS ${tutti_programs} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Debian 12 keeps units in /lib/systemd/system (lintian: systemd-service-file-outside-lib).
set(TUTTI_SYSTEMD_UNIT_DIR /lib/systemd/system CACHE PATH "where the systemd units go")
foreach(u IN LISTS tutti_units)
  install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/${u} DESTINATION ${TUTTI_SYSTEMD_UNIT_DIR})
endforeach()

if(TARGET click_samples)
  install(DIRECTORY ${TUTTI_CLICK_SAMPLES_DIR}/ DESTINATION ${CMAKE_INSTALL_DATADIR}/tutti/click-samples
    FILES_MATCHING PATTERN "*.wav" PATTERN "raw" EXCLUDE)
endif()

set(tutti_doc ${CMAKE_INSTALL_DATADIR}/doc/tutti)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/deploy/debian/copyright
  DESTINATION ${tutti_doc})
install(FILES ${CMAKE_SOURCE_DIR}/deploy/etc/coordinator.env ${CMAKE_SOURCE_DIR}/deploy/etc/agent-ROOM.env
  ${CMAKE_SOURCE_DIR}/deploy/etc/dash.env ${CMAKE_SOURCE_DIR}/deploy/etc/relay.env
  ${CMAKE_SOURCE_DIR}/deploy/tempo/example-1m1.tempo
  DESTINATION ${tutti_doc}/examples)
install(PROGRAMS ${CMAKE_SOURCE_DIR}/deploy/three-sites.sh DESTINATION ${tutti_doc}/examples)

# changelog.Debian.gz: gzip -9n (no name, no time stamp) keeps the package reproducible.
set(tutti_changelog ${CMAKE_BINARY_DIR}/deb/changelog.Debian)
configure_file(${CMAKE_SOURCE_DIR}/deploy/debian/changelog.in ${tutti_changelog} @ONLY)
add_custom_command(OUTPUT ${tutti_changelog}.gz
  COMMAND gzip -9nkf ${tutti_changelog}
  DEPENDS ${tutti_changelog} VERBATIM)
add_custom_target(tutti_changelog ALL DEPENDS ${tutti_changelog}.gz)
install(FILES ${tutti_changelog}.gz DESTINATION ${tutti_doc})

# Debian installs manual pages gzip -9n (lintian: uncompressed-manual-page
# is an error). The programs' own rules install their pages (help2man, when
# it is found) before this runs: this file is included last, and install
# rules run in the order they were declared (CMP0082).
install(CODE [[
  file(GLOB tutti_pages "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/share/man/man1/*.1")
  foreach(page IN LISTS tutti_pages)
    execute_process(COMMAND gzip -9nf "${page}" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "gzip ${page} failed")
    endif()
  endforeach()
]])

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tutti)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_CONTACT "tutti maintainers <maintainers@users.noreply.r-seed-6bc71362.example>")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION sound)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://tutti.invalid/")
# dpkg-shlibdeps (dpkg-dev) computes the library Depends from the binaries;
# adduser for the postinst's system user.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "jackd2")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "one clock for every room of a remote recording session")
# CPack writes the summary as the synopsis and this as the extended text,
# indenting each line and turning the empty one into " .".
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"tutti keeps every room of a recording session on one clock: one click
and count-off everywhere, transport and take numbers in sync, every
score change acknowledged by every room, all of it in one signed,
hash-chained history kept by a coordinator.

This package holds the coordinator, the room agent, the contractor's
dashboard and the operator's command line, with systemd units for the
services (a tutti system user, sandboxed).")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/deploy/debian/postinst ${CMAKE_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
