// Groups, timed waits and the give-up protocol (see mpi_support.hpp and docs/distributed.md).
#include "mpi_support.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <thread>

namespace lazynn::distributed::detail {
namespace {

constexpr int kStatusTag = 7;

/// A peer's report about itself, sent once when it gives up.
struct Status {
    bool waiting = false;  // inside a collective (else between collectives)
    int group = -1;
    Op op = Op::Barrier;
    std::int64_t seq = 0;
    std::int64_t waited_ms = 0;
    std::map<int, std::int64_t> launched;  // group id -> collectives started there
};

struct Registry {
    std::unique_ptr<Group> world;
    MPI_Comm control = MPI_COMM_NULL;  // status messages only
    std::vector<Group*> groups;        // every live group, the default one included
    std::map<int, std::string> names;  // every group ever created, for reports
    int next_id = 1;
    std::chrono::milliseconds timeout = std::chrono::minutes(30);
    std::string broken;
    const Pending* waiting = nullptr;
    std::vector<Tensor> abandoned;                                 // buffers of collectives that never completed
    std::vector<std::unique_ptr<std::vector<std::int64_t>>> sent;  // status messages in flight
    std::vector<MPI_Request> sent_requests;
    bool told_peers = false;
    std::map<int, Status> heard;  // peers that gave up, by rank
};

Registry& registry() {
    static Registry instance;
    return instance;
}

int my_rank() { return rank(); }
int peers() { return world_size() - 1; }

std::string group_name(int id) {
    const auto& names = registry().names;
    const auto found = names.find(id);
    return found != names.end() ? found->second : "group " + std::to_string(id);
}

std::string where(Op op, std::int64_t seq, int group, const std::string& detail = "") {
    return op_name(op) + (detail.empty() ? "" : " (" + detail + ")") + " [collective #" + std::to_string(seq) + " on " +
           group_name(group) + "]";
}

std::vector<std::int64_t> encode_status() {
    const Registry& reg = registry();
    std::vector<std::int64_t> row;
    const Pending* w = reg.waiting;
    row.push_back(w != nullptr);
    row.push_back(w ? w->group->id : -1);
    row.push_back(w ? static_cast<std::int64_t>(w->op) : 0);
    row.push_back(w ? w->seq : 0);
    row.push_back(w ? std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - w->started).count() : 0);
    for (const Group* g : reg.groups) {
        row.push_back(g->id);
        row.push_back(g->launched);
    }
    return row;
}

Status decode_status(const std::vector<std::int64_t>& row) {
    Status s;
    if (row.size() < 5) return s;
    s.waiting = row[0] != 0;
    s.group = static_cast<int>(row[1]);
    s.op = static_cast<Op>(row[2]);
    s.seq = row[3];
    s.waited_ms = row[4];
    for (std::size_t i = 5; i + 1 < row.size(); i += 2) s.launched[static_cast<int>(row[i])] = row[i + 1];
    return s;
}

/// Receives every status message waiting on the control communicator.
void receive_statuses() {
    Registry& reg = registry();
    for (;;) {
        int flag = 0;
        MPI_Status probe;
        if (MPI_Iprobe(MPI_ANY_SOURCE, kStatusTag, reg.control, &flag, &probe) != MPI_SUCCESS || !flag) return;
        int count = 0;
        MPI_Get_count(&probe, MPI_INT64_T, &count);
        std::vector<std::int64_t> row(static_cast<std::size_t>(std::max(count, 0)));
        MPI_Recv(row.data(), count, MPI_INT64_T, probe.MPI_SOURCE, kStatusTag, reg.control, MPI_STATUS_IGNORE);
        reg.heard[probe.MPI_SOURCE] = decode_status(row);
    }
}

/// Sends this rank's status to every peer, once (small messages: MPI delivers them eagerly, even
/// if this rank stops calling MPI right after).
void tell_peers() {
    Registry& reg = registry();
    if (reg.told_peers) return;
    reg.told_peers = true;
    auto row = std::make_unique<std::vector<std::int64_t>>(encode_status());
    for (int peer = 0; peer < world_size(); ++peer) {
        if (peer == my_rank()) continue;
        MPI_Request request;
        if (MPI_Isend(row->data(), static_cast<int>(row->size()), MPI_INT64_T, peer, kStatusTag, reg.control,
                      &request) == MPI_SUCCESS) {
            reg.sent_requests.push_back(request);
        }
    }
    reg.sent.push_back(std::move(row));
}

std::string seconds(std::int64_t ms) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms) / 1000.0);
    return text;
}

/// Every rank that gives up ends here: tell the peers, hear theirs, name who did not arrive.
[[noreturn]] void give_up(const Pending& pending, const std::vector<Tensor>& keep_alive, bool timed_out) {
    Registry& reg = registry();
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - pending.started).count();
    abandon(keep_alive);
    reg.waiting = &pending;
    reg.broken = "a collective gave up";
    if (world_size() > 1) {
        tell_peers();
        const auto deadline = Clock::now() + grace_period();
        while (static_cast<int>(reg.heard.size()) < peers() && Clock::now() < deadline) {
            receive_statuses();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    reg.waiting = nullptr;
    std::string message = where(pending.op, pending.seq, pending.group->id, pending.detail);
    if (timed_out) {
        message += " timed out after " + seconds(waited) + " on rank " + std::to_string(my_rank());
    } else {
        message += " on rank " + std::to_string(my_rank()) + " cannot complete:";
        bool first = true;
        for (const auto& [peer, status] : reg.heard) {
            message += std::string(first ? "" : ",") + " rank " + std::to_string(peer) + " gave up" +
                       (status.waiting ? " after " + seconds(status.waited_ms) + " in " +
                                             where(status.op, status.seq, status.group)
                                       : "");
            first = false;
        }
    }
    std::vector<std::string> missing;
    std::vector<int> missing_ranks;
    for (int peer = 0; peer < world_size(); ++peer) {
        if (peer == my_rank()) continue;
        const auto found = reg.heard.find(peer);
        if (found == reg.heard.end()) {
            missing_ranks.push_back(peer);
            missing.push_back("rank " + std::to_string(peer) + " did not answer within " +
                              seconds(grace_period().count()) +
                              " (it exited, is stuck outside lazynn's collectives, or is still computing)");
            continue;
        }
        const Status& s = found->second;
        const auto launched = s.launched.find(pending.group->id);
        if (launched != s.launched.end() && launched->second >= pending.seq) continue;  // it arrived
        missing_ranks.push_back(peer);
        missing.push_back("rank " + std::to_string(peer) + " is " +
                          (s.waiting ? "in " + where(s.op, s.seq, s.group) + " since " + seconds(s.waited_ms)
                                     : std::string("between collectives")));
    }
    if (missing.empty()) {
        if (timed_out) message += "; every rank arrived, but MPI did not complete it (a lost connection?)";
    } else {
        message += "; " + rank_list(missing_ranks) + " did not arrive: ";
        for (std::size_t i = 0; i < missing.size(); ++i) message += (i ? "; " : "") + missing[i];
    }
    message +=
        ". The process group is unusable now (MPI cannot cancel a started collective): end the job, e.g. "
        "with distributed::abort()";
    reg.broken = message;
    throw DistributedError(message);
}

bool peer_gave_up() {
    if (world_size() == 1) return false;
    receive_statuses();
    return !registry().heard.empty();
}

/// Spins first (a collective usually completes within microseconds), then yields, and sleeps only
/// once this wait has lasted a while, so a rank waiting for a slow peer leaves the core to others.
void back_off(long spins, Clock::time_point waiting_since) {
    if (spins < 1000) return;
    if (Clock::now() - waiting_since < std::chrono::milliseconds(50)) {
        std::this_thread::yield();
    } else {
        std::this_thread::sleep_for(std::chrono::microseconds(200));  // a long wait: leave the core to others
    }
}

}  // namespace

std::string op_name(Op op) {
    switch (op) {
        case Op::Barrier:
            return "barrier";
        case Op::AllReduce:
            return "all_reduce";
        case Op::Broadcast:
            return "broadcast";
        case Op::AllGather:
            return "all_gather";
        case Op::ReduceScatter:
            return "reduce_scatter";
        case Op::Finalize:
            return "finalize";
        case Op::NewGroup:
            return "creating a group";
        case Op::GradientBucket:
            return "DistributedDataParallel gradient all-reduce";
        case Op::JoinRound:
            return "Join round";
        case Op::StateBroadcast:
            return "DistributedDataParallel state broadcast";
        case Op::LayoutCheck:
            return "DistributedDataParallel model check";
    }
    return "collective " + std::to_string(static_cast<std::int64_t>(op));
}

Group::~Group() {
    Registry& reg = registry();
    reg.groups.erase(std::remove(reg.groups.begin(), reg.groups.end(), this), reg.groups.end());
    int finalized = 1;
    MPI_Finalized(&finalized);
    // A broken group may still have a collective in flight: leave its communicator alone.
    if (comm != MPI_COMM_NULL && !finalized && reg.broken.empty()) MPI_Comm_free(&comm);
}

void open_groups() {
    Registry& reg = registry();
    if (reg.world) return;
    auto world = std::make_unique<Group>();
    check(MPI_Comm_dup(MPI_COMM_WORLD, &world->comm), "MPI_Comm_dup");
    world->id = 0;
    world->name = "the default group";
    reg.groups.push_back(world.get());
    reg.names[0] = world->name;
    reg.world = std::move(world);
    check(MPI_Comm_dup(MPI_COMM_WORLD, &reg.control), "MPI_Comm_dup");
}

void close_groups() {
    Registry& reg = registry();
    reg.world.reset();
    if (reg.control != MPI_COMM_NULL && reg.broken.empty()) MPI_Comm_free(&reg.control);
    reg.control = MPI_COMM_NULL;
}

std::chrono::milliseconds& group_timeout() { return registry().timeout; }
const std::string& broken_reason() { return registry().broken; }

std::chrono::milliseconds grace_period() {
    const auto timeout = registry().timeout;
    const auto grace =
        std::clamp<std::chrono::milliseconds>(timeout / 4, std::chrono::seconds(1), std::chrono::seconds(10));
    return std::min(grace, timeout);
}

Group& default_group() {
    require_initialized("the default group");
    return *registry().world;
}

std::shared_ptr<Group> make_group(const std::string& what) {
    Registry& reg = registry();
    // Every rank must be creating a group now: check that first, then duplicate (non-blocking, timed).
    check_same_call(default_group(), Op::NewGroup, 0, nullptr);
    Pending pending = begin(default_group(), Op::NewGroup, what);
    auto comm = std::make_unique<MPI_Comm>(MPI_COMM_NULL);  // MPI writes it when the duplication completes
    MPI_Request request;
    check(MPI_Comm_idup(default_group().comm, comm.get(), &request), "MPI_Comm_idup");
    try {
        wait(pending, request, {});
    } catch (...) {
        (void)comm.release();  // MPI may still write it
        throw;
    }
    auto group = std::make_shared<Group>();
    group->comm = *comm;
    group->id = reg.next_id++;
    group->name = what + " (group " + std::to_string(group->id) + ")";
    reg.groups.push_back(group.get());
    reg.names[group->id] = group->name;
    return group;
}

void require_usable(const char* what) {
    const std::string& broken = registry().broken;
    if (!broken.empty()) {
        throw DistributedError(std::string(what) +
                               ": the process group is unusable since an earlier collective gave up: " + broken);
    }
}

Pending begin(Group& group, Op op, std::string detail) {
    require_usable(op_name(op).c_str());
    Pending pending{&group, op, ++group.launched, std::move(detail), Clock::now()};
    if (peer_gave_up()) give_up(pending, {}, false);
    return pending;
}

void wait(const Pending& pending, MPI_Request& request, const std::vector<Tensor>& keep_alive) {
    Registry& reg = registry();
    if (!reg.broken.empty()) {
        abandon(keep_alive);
        require_usable(op_name(pending.op).c_str());
    }
    const auto deadline = pending.started + reg.timeout;
    const auto waiting_since = Clock::now();
    reg.waiting = &pending;
    for (long spins = 0;; ++spins) {
        int done = 0;
        const int code = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
        if (code != MPI_SUCCESS) {
            reg.waiting = nullptr;
            check(code, op_name(pending.op).c_str());
        }
        if (done) break;
        if ((spins % 64 == 0 || spins >= 1000) && peer_gave_up()) give_up(pending, keep_alive, false);
        if (Clock::now() >= deadline) give_up(pending, keep_alive, true);
        back_off(spins, waiting_since);
    }
    reg.waiting = nullptr;
}

void abandon(const std::vector<Tensor>& buffers) {
    for (const Tensor& t : buffers) registry().abandoned.push_back(t);
}

std::string rank_list(const std::vector<int>& ranks) {
    std::string text = ranks.size() == 1 ? "rank " : "ranks ";
    for (std::size_t i = 0; i < ranks.size(); ++i) text += (i ? ", " : "") + std::to_string(ranks[i]);
    return text;
}

std::string describe_by_rank(const std::vector<std::string>& per_rank) {
    std::vector<std::pair<std::string, std::vector<int>>> groups;
    for (std::size_t r = 0; r < per_rank.size(); ++r) {
        auto found = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == per_rank[r]; });
        if (found == groups.end()) {
            groups.push_back({per_rank[r], {static_cast<int>(r)}});
        } else {
            found->second.push_back(static_cast<int>(r));
        }
    }
    std::string text;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        text += (i ? "; " : "") + rank_list(groups[i].second) + ": " + groups[i].first;
    }
    return text;
}

}  // namespace lazynn::distributed::detail
