/* tutti: the operator's command line. main() parses the connection flags
 * and dispatches the subcommand from one table (name, handler, flags,
 * synopsis, manual, example), Redis-style: `tutti --help` and
 * `tutti COMMAND --help` are printed from the same table.
 *
 * The commands live in modules: cli_conn (the connection), cli_write
 * (requests that append a record), cli_read (status, history, cue list,
 * takes, report), cli_verify (offline checks), cli_tempo (the tempo map
 * shown, checked, exported and located), cli_ltc, cli_media and
 * cli_session (init, invite, access: the session directory, offline).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "cli_ltc.h"
#include "cli_media.h"
#include "cli_read.h"
#include "cli_session.h"
#include "cli_takes.h"
#include "cli_tempo.h"
#include "cli_verify.h"
#include "cli_write.h"
#include "tt_access.h"
#include "tt_config.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_opts.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* Command flags. */
#define CLI_CONN 1u     /* talks to the coordinator (the connection flags apply) */
#define CLI_WRITE 2u    /* appends a record to the log */
#define CLI_OWN_HELP 4u /* parses its own --help */

typedef struct {
    const char *name;
    cli_handler_fn fn;
    unsigned flags;
    const char *synopsis; /* one line per form, '\n' between, without "tutti " */
    const char *help;     /* what it does, lines of at most 54 characters */
    const char *example;  /* NULL for commands with their own --help */
} cli_command_t;

static int cmd_keygen(const tt_conn_opts_t *o, int argc, char **argv)
{
    (void)o;
    const char *dir = NULL, *name = NULL, *role = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
            role = argv[++i];
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else {
            fprintf(stderr, "tutti keygen: unexpected '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!name || !dir) {
        fprintf(stderr, "usage: tutti keygen NAME --dir DIR [--role ROLE]\n");
        return EXIT_USAGE;
    }
    if (role && tt_role_from_name(role) == TT_ROLE_NONE) {
        fprintf(stderr, "tutti keygen: role '%s': operator, room, contractor or observer\n", role);
        return EXIT_USAGE;
    }
    char why[TT_WHY_LEN];
    tt_keypair_t *kp = tt_keypair_generate(why);
    if (!kp || tt_keypair_save(kp, dir, name, why) != 0) {
        fprintf(stderr, "tutti keygen: %s\n", why);
        tt_keypair_destroy(&kp);
        return 1;
    }
    printf("%s/%s.key  (secret, mode 0600)\n%s/%s.pub  public key %s\n", dir, name, dir, name,
           kp->public_z85);
    /* The line for the coordinator's access file (tutti access add does it). */
    printf("access line: %-10s %-16s %s%s\n", role ? role : "ROLE", name, kp->public_z85,
           role ? "" : "  (ROLE: operator, room, contractor or observer)");
    tt_keypair_destroy(&kp);
    return 0;
}

/* cue add is a write, cue list a read: one name, two modules. */
static int cmd_cue(const tt_conn_opts_t *o, int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "add"))
        return cli_write_cue_add(o, argc, argv);
    return cli_read_cue_list(o, argc, argv);
}

static int cmd_ltc(const tt_conn_opts_t *o, int argc, char **argv)
{
    (void)o;
    return cli_ltc_main(argc, argv);
}

static int cmd_media(const tt_conn_opts_t *o, int argc, char **argv)
{
    return cli_media_main(argc, argv, o);
}

static const cli_command_t commands[] = {
    {"init", cli_session_init, 0,
     "init SESSION [--dir DIR] [--coordinator EP[,EP]] [--standby EP] [--data DIR] [--force]",
     "make a session directory (default ./SESSION): the\n"
     "coordinator's key (0600), coordinator.ini (for\n"
     "tutti-coordinator --config; binds the first EP's\n"
     "port, on every interface unless EP is loopback),\n"
     "session.ini (the endpoints participants dial;\n"
     "default " TT_OPTS_COORDINATOR_DEFAULT "), an empty access\n"
     "file and bundles/. --data: the store (default\n"
     "DIR/data). --force starts an existing one over: a\n"
     "new key, an empty access file; old bundles stop\n"
     "working. --standby EP: also a standby coordinator\n"
     "that dials the primary at the (one) --coordinator\n"
     "EP: standby.key, standby.ini, both in the access\n"
     "file, and participants dial EP,STANDBY-EP",
     "tutti init scoring --coordinator tcp://studio.example.org:7700"},
    {"invite", cli_session_invite, 0,
     "invite NAME --role ROLE [--session DIR] [--out FILE] [--coordinator EP[,EP]] "
     "[--relay EP --relay-key FILE.pub]",
     "write NAME's bundle (default DIR/bundles/NAME.tutti,\n"
     "mode 0600): a new key pair, the coordinator's public\n"
     "key and endpoints, NAME and ROLE (operator, room,\n"
     "contractor, observer), and add NAME's access line.\n"
     "Refuses a NAME already there. DIR: --session, else\n"
     "$TUTTI_SESSION, else the current directory.\n"
     "--coordinator: what this one dials, if not the\n"
     "session's. --relay: the participant's site relay\n"
     "(tutti-relay) and its certificate: the bundle holds\n"
     "both and the participant goes through it. A running\n"
     "coordinator rereads the access file on SIGHUP",
     "tutti invite stage --role room --session scoring"},
    {"access", cli_session_access, 0,
     "access add ROLE NAME (KEY | --pub FILE.pub)\n"
     "access remove NAME\n"
     "access list [--json]\n"
     "  (each with [--session DIR | --access FILE])",
     "edit or print the access file (DIR/access, or\n"
     "--access FILE), each edit checked as the coordinator\n"
     "checks the file and replaced atomically; SIGHUP\n"
     "makes a running coordinator read it again. --json:\n"
     "one object per line (role, name, public_key)",
     "tutti access remove stage --session scoring"},
    {"keygen", cmd_keygen, 0, "keygen NAME --dir DIR [--role ROLE]",
     "write DIR/NAME.key (mode 0600) and DIR/NAME.pub,\n"
     "czmq-compatible CURVE certificates, and print the\n"
     "access file's line for the key (ROLE in it)",
     "tutti keygen conductor --dir keys --role operator"},
    {"note", cli_write_note, CLI_CONN | CLI_WRITE, "note TEXT",
     "append a session note (operator role)", "tutti note 'Bar 12-16 horns tacet'"},
    {"status", cli_read_status, CLI_CONN, "status [--json]",
     "log head and every room: online, replica position", "tutti status --json"},
    {"relay-status", cli_read_relay_status, CLI_CONN, "relay-status [--json]",
     "a site relay's own state (needs --relay and --relay-key):\n"
     "upstream connection, subscribers, requests passed and\n"
     "refused, the head it has seen, its clock",
     "tutti --relay tcp://berlin:7710 --relay-key relay.pub relay-status"},
    {"history", cli_read_history, CLI_CONN,
     "history [--json|--csv] [--since SEQ] [--cue CUE] [--room ROOM] [--kind KIND]",
     "print records with seq > SEQ (default 0: all);\n"
     "--json prints one JSON object per line; filters\n"
     "keep records of a cue, by or about a room, of a kind",
     "tutti history --json --since 40"},
    {"trim", cli_write_trim, CLI_CONN | CLI_WRITE, "trim ROOM US",
     "set ROOM's clock trim in microseconds (operator; a log\n"
     "record): added to the room's session time to cancel a\n"
     "known path asymmetry; 0 removes it",
     "tutti trim london -350"},
    {"cue", cmd_cue, CLI_CONN, "cue add CUE [--title T]\ncue list [--json]",
     "add a cue (operator); list cues with their map version\n"
     "and takes",
     "tutti cue add 1M1 --title 'Main titles'"},
    {"arm", cli_write_arm, CLI_CONN | CLI_WRITE, "arm CUE",
     "arm the transport for CUE (idle/stopped -> armed)", "tutti arm 1M1"},
    {"take", cli_write_take, CLI_CONN | CLI_WRITE,
     "take rate CUE N circled|hold|ng|false-start [--note TEXT]\ntake note CUE N TEXT",
     "rate or annotate a take (each is a new record)",
     "tutti take rate 1M1 3 circled --note 'horns at last'"},
    {"takes", cli_takes, CLI_CONN, "takes [--json|--csv] [--cue CUE]",
     "the take sheet: cue, take, state, start timecode,\n"
     "from bar, duration, latest rating, notes, rooms\n"
     "online, changes acked, files arrived and pending",
     "tutti takes --cue 1M1 --csv"},
    {"change", cli_write_change, CLI_CONN | CLI_WRITE,
     "change CUE --text TEXT [--bars A-B] [--parts P,...]",
     "record a score change and publish it to every room",
     "tutti change 1M1 --text 'horns tacet' --bars 12-16 --parts hn1,hn2"},
    {"presence", cli_write_presence, CLI_CONN | CLI_WRITE,
     "presence ROOM [--in NAME]... [--out NAME]...",
     "check players in and out of a room (contractor,\n"
     "operator, or the room itself)",
     "tutti presence stage --in 'Ann Lee' --out 'Bo Chen'"},
    {"call", cli_write_call, CLI_CONN | CLI_WRITE,
     "call start --rules PRESET|FILE\ncall break-start | call break-end | call wrap",
     "start the contractor's call under a rules preset\n"
     "(afm-film-la afm-sound mu-london video-game) or file;\n"
     "mark its breaks and its wrap",
     "tutti call start --rules afm-film-la"},
    {"report", cli_read_report, CLI_CONN, "report [--csv] [--tz ZONE]",
     "the union report draft, one section per call: per\n"
     "player rooms, time in/out, minutes, cues, breaks,\n"
     "overtime units; as text, or CSV with a call column.\n"
     "Times in ZONE (an IANA name; default this machine's)",
     "tutti report --csv --tz Europe/London > report.csv"},
    {"ack", cli_write_ack, CLI_CONN | CLI_WRITE, "ack CHANGE",
     "acknowledge a change, with a room's key (role room)", "tutti --key keys/stage.key ack 7"},
    {"tempo", cli_tempo_main, CLI_CONN,
     "tempo load CUE FILE [--start-tc TC] [--fps RATE] [--countoff BARS]\n"
     "tempo show (CUE | --file MAP) [--json]\n"
     "tempo check FILE [--json]\n"
     "tempo export (CUE | --file MAP) --smf OUT.mid",
     "load: a tempo map (text format or Standard MIDI\n"
     "File) for CUE as a new version (operator, a write);\n"
     "--start-tc and --fps move its start, --countoff sets\n"
     "its count-off (0..8 bars). show: the map as text,\n"
     "every change (meter, tempo, frame click, rit/accel,\n"
     "free time, click off/on) with its bar, timecode and\n"
     "seconds, then markers, visual markers (streamers,\n"
     "punches, flutters, warnings, hits: their color and\n"
     "where a streamer starts) and the end. check: the same\n"
     "for a file, offline; exit 1 with the line at fault.\n"
     "export: a MIDI file (format 0, 960 per quarter) of\n"
     "the map for DAWs and streamer tools: meters, tempos\n"
     "(ramps in sixteenth steps), SMPTE offset, markers\n"
     "(visual markers as their words, which load back)",
     "tutti tempo show 1M1 --json"},
    {"locate", cli_tempo_locate, CLI_CONN,
     "locate (CUE | --file MAP) (BAR[.BEAT[.TICK]] | TC | MARKER) [--json]",
     "bar <-> timecode in the cue's map: a position gives\n"
     "its timecode (the frame holding it, + ms into it),\n"
     "a timecode (HH:MM:SS:FF at the map's rate) the\n"
     "position at its frame's start, a marker's or named\n"
     "visual marker's name its place; says when the click is off there (count-off,\n"
     "pickup, free time, click off, after the end)",
     "tutti locate 1M1 12.2"},
    {"roll", cli_write_roll, CLI_CONN | CLI_WRITE, CLI_ROLL_SYNOPSIS,
     "start the armed CUE at session time now + lead\n"
     "(default 1500 ms), opening its next take: every\n"
     "room counts off on the same sample. Refused while an\n"
     "online room has not acked a change to CUE; --force\n"
     "rolls anyway and the override is in the log",
     "tutti roll 1M1 --from-bar 9 --lead-ms 2000"},
    {"stop", cli_write_stop, CLI_CONN | CLI_WRITE, "stop [--lead-ms MS]",
     "stop at session time now + lead (default 0)", "tutti stop"},
    {"clicks", cli_verify_clicks, 0,
     "clicks REF.wav OTHER.wav... [--json] [--whole-samples] [--ref-delay SAMPLES]",
     "how far each file's clicks landed from REF's, in\n"
     "samples, to a fraction of a sample (or by first\n"
     "sample with --whole-samples); files from tutti-agent\n"
     "--click-wav on this host, simulated clocks undone;\n"
     "--ref-delay: REF sounds SAMPLES later than recorded",
     "tutti clicks stage.wav london.wav --json"},
    {"ltc", cmd_ltc, CLI_OWN_HELP, "ltc read FILE.wav [--channel N] [--fps RATE] [--json]",
     "print each LTC frame's timecode and first sample", NULL},
    {"media", cmd_media, CLI_CONN | CLI_OWN_HELP,
     "media fetch CUE TAKE [--room R] [--input I] --out DIR\n"
     "media put CUE FILE --kind prelay|guide [--rooms R,...]\n"
     "      [--at BAR | --at-tc TC] [--name N]\n"
     "media guide CUE --take N --room R [--input I] [--rooms R,...]\n"
     "      [--at BAR | --at-tc TC] [--name N]",
     "download a take's uploaded files, each checked against\n"
     "the BLAKE2b hash in its signed media record; send a\n"
     "prelay or guide track every named room fetches; make\n"
     "a take's recording the cue's guide track",
     NULL},
    {"verify", cli_verify_store, 0, "verify DIR [--json]",
     "check a coordinator store or agent replica offline:\n"
     "gap-free sequence, hash chain, signatures, and that\n"
     "each stored snapshot equals the fold at its seq",
     "tutti verify /var/lib/tutti --json"},
};

static const cli_command_t *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* Prints text's lines, each after indent spaces (the first after first). */
static void print_lines(FILE *out, const char *text, int first, int indent)
{
    for (int pad = first; *text; pad = indent) {
        size_t n = strcspn(text, "\n");
        fprintf(out, "%*s%.*s\n", pad, "", (int)n, text);
        text += n + (text[n] == '\n');
    }
}

/* A command in the list: its forms from column 2, its help from column 31
 * (on the last form's line when that form is short enough). */
static void list_command(FILE *out, const cli_command_t *c)
{
    const char *syn = c->synopsis;
    for (;;) {
        size_t n = strcspn(syn, "\n");
        if (syn[n] == '\n') {
            fprintf(out, "  %.*s\n", (int)n, syn);
            syn += n + 1;
        } else if (n <= 28) {
            fprintf(out, "  %-28s ", syn);
            print_lines(out, c->help, 0, 31);
            return;
        } else {
            fprintf(out, "  %s\n", syn);
            print_lines(out, c->help, 31, 31);
            return;
        }
    }
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: tutti [connection options] COMMAND [args]\n"
                 "\n"
                 "The operator's command line for a tutti session.\n"
                 "\n"
                 "Commands (tutti COMMAND --help for one command's manual):\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        list_command(out, &commands[i]);
    fprintf(out, "\n"
                 "Connection options (for commands that talk to the coordinator):\n");
    tt_conn_opts_usage(out, 1);
    fputs(TT_CONN_OPTS_HELP_RELAY, out);
    fputs(TT_CONFIG_HELP, out);
    fprintf(out, "  -h, --help            this text\n"
                 "\n"
                 "Connection options may also follow the command (tutti note TEXT --bundle\n"
                 "me.tutti). A config file (--config) holds any of them as key = value,\n"
                 "e.g. bundle = conductor.tutti; a flag given here wins over it.\n"
                 "\n"
                 "Exit status: 0 success, 1 failure, 2 bad usage, 3 refused (unknown key,\n"
                 "role not allowed) or verification failed.\n"
                 "\n"
                 "Examples:\n"
                 "  tutti keygen conductor --dir keys\n"
                 "  export TUTTI_SERVER_KEY=keys/coordinator.pub TUTTI_KEY=keys/conductor.key\n"
                 "  tutti note 'Bar 12-16 horns tacet'\n"
                 "  tutti history --json --since 40\n"
                 "  tutti verify /var/lib/tutti --json\n");
}

/* tutti COMMAND --help: its forms, what it does, the connection flags when
 * it connects, an example. */
static void command_help(FILE *out, const cli_command_t *c)
{
    const char *syn = c->synopsis;
    for (const char *lead = "Usage: "; *syn; lead = "       ") {
        size_t n = strcspn(syn, "\n");
        fprintf(out, "%stutti %s%.*s\n", lead, c->flags & CLI_CONN ? "[connection options] " : "",
                (int)n, syn);
        syn += n + (syn[n] == '\n');
    }
    fputc('\n', out);
    print_lines(out, c->help, 0, 0);
    if (c->flags & CLI_WRITE)
        fprintf(out, "\nA write: the coordinator checks it against the session and your\n"
                     "role, records it in the signed log and answers with its sequence\n"
                     "number. It is recorded exactly once: when the reply is lost\n"
                     "(--timeout-ms passes, or the connection drops) tutti reconnects\n"
                     "and sends it once more with the same idempotency key, and says\n"
                     "on stderr whether the first attempt had been recorded.\n");
    if (c->flags & CLI_CONN) {
        fprintf(out, "\nConnection options (before or after the command):\n");
        tt_conn_opts_usage(out, 1);
        fputs(TT_CONN_OPTS_HELP_RELAY, out);
        fputs(TT_CONFIG_HELP, out);
    }
    fprintf(out, "\nExit status: 0 success, 1 failure, 2 bad usage%s.\n",
            c->flags & CLI_CONN         ? ", 3 refused (unknown key, role not allowed)"
            : c->fn == cli_verify_store ? ", 3 verification failed"
                                        : "");
    if (c->example)
        fprintf(out, "\nExample:\n  %s\n", c->example);
}

/* Connection flags (and --config) after a connecting command's name are
 * moved before it, so `tutti note TEXT --bundle me.tutti` reads as
 * `tutti --bundle me.tutti note TEXT`. Only exact names, up to a "--":
 * no subcommand has a flag of these names. argv is reordered in place. */
static void hoist_conn_flags(int argc, char **argv, const struct option *opts)
{
    int i = 1;
    while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0) { /* the global flags */
        const char *name = argv[i] + 2, *eq = strchr(name, '=');
        int takes = argv[i][1] == '-' && !eq && strcmp(name, "help") != 0;
        i += 1 + (takes && i + 1 < argc);
    }
    if (i >= argc)
        return;
    const cli_command_t *cmd = find_command(argv[i]);
    if (!cmd || !(cmd->flags & CLI_CONN))
        return;
    int at = i; /* where the command's name is */
    for (int k = at + 1; k < argc && strcmp(argv[k], "--") != 0; k++) {
        if (strncmp(argv[k], "--", 2) != 0)
            continue;
        const char *name = argv[k] + 2;
        size_t n = strcspn(name, "=");
        int known = n == 6 && !strncmp(name, "config", 6);
        for (const struct option *o = opts; !known && o->name; o++)
            known = o->has_arg == required_argument && strlen(o->name) == n &&
                    !strncmp(o->name, name, n);
        if (!known)
            continue;
        int width = (name[n] == '=' || k + 1 >= argc) ? 1 : 2;
        char *moved[2] = {argv[k], width == 2 ? argv[k + 1] : NULL};
        memmove(&argv[at + width], &argv[at], (size_t)(k - at) * sizeof *argv);
        for (int w = 0; w < width; w++)
            argv[at + w] = moved[w];
        at += width;
        k += width - 1;
    }
}

int main(int argc, char **argv)
{
    tt_conn_opts_t o = {0};
    static const struct option opts[] = {
        TT_CONN_OPTIONS,       TT_CONN_OPTION_TIMEOUT,
        TT_CONN_OPTIONS_RELAY, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    hoist_conn_flags(argc, argv, opts);
    static const char *const paths[] = {"key", "server-key", "bundle", NULL};
    const tt_config_spec_t spec = {"tutti", opts, NULL, paths, 1};
    tt_config_argv_t cfg;
    int rc = tt_opts_config(&spec, &argc, &argv, &cfg);
    if (rc != 0)
        return rc;
    int c;
    /* '+': stop at the command; its own flags are parsed by the command. */
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (tt_conn_opts_is_flag(c)) {
            if ((rc = tt_conn_opts_take(&o, c, optarg, "tutti")) != 0)
                goto out;
            continue;
        }
        switch (c) {
        case 'h': usage(stdout); goto out;
        default:
            usage(stderr);
            rc = EXIT_USAGE;
            goto out;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        rc = EXIT_USAGE;
        goto out;
    }
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    const cli_command_t *cmd = find_command(sub_argv[0]);
    if (!cmd || !(cmd->flags & CLI_OWN_HELP))
        for (int i = 1; i < sub_argc; i++)
            if (strcmp(sub_argv[i], "--help") == 0 || strcmp(sub_argv[i], "-h") == 0) {
                if (cmd)
                    command_help(stdout, cmd);
                else
                    usage(stdout);
                goto out;
            }
    if (!cmd) {
        fprintf(stderr, "tutti: unknown command '%s' (see tutti --help)\n", sub_argv[0]);
        rc = EXIT_USAGE;
        goto out;
    }
    rc = cmd->fn(&o, sub_argc, sub_argv);
out:
    tt_config_argv_free(&cfg);
    return rc;
}
