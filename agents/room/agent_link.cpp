// agent_link: the Link bridge (see agent_link.h). The only C++ file of the
// agent: a thin layer over ableton::BasicLink that compares Link's session
// state with tutti's target and commits only what differs.
#include "agent_link.h"

#include <ableton/Link.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace
{

// Link wants a default-constructible clock type; its source is the one
// bridge's host clock (set before the Link object exists, cleared after).
std::atomic<int64_t (*)(void *)> g_host_ns{nullptr};
std::atomic<void *> g_host_arg{nullptr};

struct HostClock {
    std::chrono::microseconds micros() const
    {
        int64_t ns = g_host_ns.load()(g_host_arg.load());
        return std::chrono::microseconds(ns / 1000);
    }
};

void fail(char *why, const char *text)
{
    if (why)
        snprintf(why, 256, "%s", text);
}

} // namespace

struct agent_link {
    ableton::BasicLink<HostClock> link{120.0};
    agent_link_status_t st{};
    int was_playing = -1; // the last isPlaying we set (-1: never)
    int64_t play_ns = 0;
};

extern "C" agent_link_t *agent_link_new(int64_t (*host_ns)(void *arg), void *arg, char *why)
{
    int64_t (*none)(void *) = nullptr;
    if (!g_host_ns.compare_exchange_strong(none, host_ns)) {
        fail(why, "Link: one bridge per process");
        return nullptr;
    }
    g_host_arg.store(arg);
    agent_link_t *l = nullptr;
    try {
        l = new agent_link();
        l->link.enableStartStopSync(true);
        l->link.enable(true);
    } catch (const std::exception &e) {
        char text[200];
        snprintf(text, sizeof text, "starting Link: %s", e.what());
        fail(why, text);
        delete l;
        g_host_ns.store(nullptr);
        return nullptr;
    }
    return l;
}

extern "C" void agent_link_destroy(agent_link_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    (*self_p)->link.enable(false);
    delete *self_p;
    *self_p = nullptr;
    g_host_ns.store(nullptr);
}

extern "C" void agent_link_follow(agent_link_t *l, const agent_link_target_t *t)
{
    l->st.peers = (int)l->link.numPeers();
    if (!t->active)
        return;
    auto state = l->link.captureAppSessionState();
    bool commit = false;
    const std::chrono::microseconds at(t->host_ns / 1000);
    if (t->in_roll) {
        if (std::fabs(state.tempo() - t->bpm) > AGENT_LINK_TEMPO_EPS) {
            state.setTempo(t->bpm, at);
            l->st.tempos++;
            commit = true;
        }
        // Phase on the bar: other peers' beat counts may differ by whole bars.
        double q = t->quantum > 0 ? t->quantum : 4.0;
        double d = std::fmod(t->beat - state.beatAtTime(at, q), q);
        if (d > q / 2)
            d -= q;
        else if (d < -q / 2)
            d += q;
        l->st.error_ms = d * 60000.0 / t->bpm;
        if (std::fabs(l->st.error_ms) > AGENT_LINK_PHASE_MS) {
            state.forceBeatAtTime(t->beat, at, q);
            l->st.forces++;
            commit = true;
        }
    }
    // The start's host time moves by nanoseconds as the clock estimate does:
    // set it again only when it moved by more than a millisecond (a new roll).
    if (t->playing != l->was_playing ||
        (t->playing && std::llabs(t->play_ns - l->play_ns) > 1000000)) {
        state.setIsPlaying(t->playing != 0, std::chrono::microseconds(t->play_ns / 1000));
        l->was_playing = t->playing;
        l->play_ns = t->play_ns;
        commit = true;
    }
    if (commit)
        l->link.commitAppSessionState(state);
    l->st.bpm = t->in_roll ? t->bpm : state.tempo();
}

extern "C" void agent_link_status(const agent_link_t *l, agent_link_status_t *out)
{
    *out = l->st;
}
