/*
 * Switchyard Kafka test cluster harness.
 *
 * Runs librdkafka's built-in mock cluster (NOT Apache Kafka) with the
 * Switchyard patch applied (see librdkafka-mock.patch) and exposes a
 * line-based control protocol on stdin and on a loopback TCP port so tests
 * can inject faults.
 *
 * See docs/kafka-test-cluster.md for usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_CLIENTS 32
#define LINE_MAX_LEN 4096

struct client {
        int fd;
        char buf[LINE_MAX_LEN];
        size_t len;
};

static volatile sig_atomic_t run = 1;
static rd_kafka_mock_cluster_t *mcluster;
static const char *bootstraps;
static int broker_cnt = 3;
static int verbose;

static void on_signal(int sig) {
        (void)sig;
        run = 0;
}

static void logmsg(const char *fmt, ...) {
        va_list ap;
        struct timeval tv;
        struct tm tm;
        char ts[32];

        gettimeofday(&tv, NULL);
        localtime_r(&tv.tv_sec, &tm);
        strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03d kafka-mock: ", ts, (int)(tv.tv_usec / 1000));
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        fflush(stderr);
}

static void rk_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf) {
        (void)rk;
        if (level <= 4 || verbose)
                logmsg("librdkafka %d %s: %s", level, fac, buf);
}

/* ApiKey names accepted by push-errors (numbers are accepted too). */
static const struct {
        const char *name;
        int16_t key;
} apikeys[] = {
    {"Produce", 0},          {"Fetch", 1},
    {"ListOffsets", 2},      {"Metadata", 3},
    {"OffsetCommit", 8},     {"OffsetFetch", 9},
    {"FindCoordinator", 10}, {"JoinGroup", 11},
    {"Heartbeat", 12},       {"LeaveGroup", 13},
    {"SyncGroup", 14},       {"DescribeGroups", 15},
    {"ListGroups", 16},      {"SaslHandshake", 17},
    {"ApiVersions", 18},     {"CreateTopics", 19},
    {"DeleteTopics", 20},    {"DeleteRecords", 21},
    {"InitProducerId", 22},  {"OffsetForLeaderEpoch", 23},
    {"AddPartitionsToTxn", 24}, {"AddOffsetsToTxn", 25},
    {"EndTxn", 26},          {"TxnOffsetCommit", 28},
    {"ConsumerGroupHeartbeat", 68},
};

static int parse_int(const char *s, long min, long max, long *out) {
        char *end;
        long v;
        if (!s || !*s)
                return -1;
        errno = 0;
        v     = strtol(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return -1;
        *out = v;
        return 0;
}

static int parse_apikey(const char *s, int16_t *out) {
        long v;
        size_t i;
        if (!parse_int(s, 0, 32767, &v)) {
                *out = (int16_t)v;
                return 0;
        }
        for (i = 0; i < sizeof(apikeys) / sizeof(apikeys[0]); i++) {
                if (!strcasecmp(s, apikeys[i].name)) {
                        *out = apikeys[i].key;
                        return 0;
                }
        }
        return -1;
}

static int parse_err(const char *s, rd_kafka_resp_err_t *out) {
        const struct rd_kafka_err_desc *descs;
        size_t cnt, i;
        long v;

        if (!parse_int(s, -200, 1000, &v)) {
                *out = (rd_kafka_resp_err_t)v;
                return 0;
        }
        if (!strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18))
                s += 18;
        rd_kafka_get_err_descs(&descs, &cnt);
        for (i = 0; i < cnt; i++) {
                if (descs[i].name && !strcasecmp(descs[i].name, s)) {
                        *out = descs[i].code;
                        return 0;
                }
        }
        return -1;
}

/* Handles one command line, writes the reply (without newline) to out. */
static void handle_command(char *line, char *out, size_t outsize) {
        char *argv[16];
        int argc = 0;
        char *save = NULL, *tok;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
        long a, b, c;

        for (tok = strtok_r(line, " \t\r\n", &save); tok && argc < 16;
             tok = strtok_r(NULL, " \t\r\n", &save))
                argv[argc++] = tok;

        if (argc == 0) {
                out[0] = '\0';
                return;
        }

#define USAGE(u)                                                               \
        do {                                                                   \
                snprintf(out, outsize, "error usage: %s", u);                  \
                return;                                                        \
        } while (0)
#define BROKER_ID(s, dst)                                                      \
        do {                                                                   \
                if (parse_int(s, 1, broker_cnt, dst)) {                        \
                        snprintf(out, outsize,                                 \
                                 "error invalid broker id '%s' (1..%d)", s,    \
                                 broker_cnt);                                  \
                        return;                                                \
                }                                                              \
        } while (0)

        if (!strcmp(argv[0], "ping")) {
                snprintf(out, outsize, "ok pong");
                return;

        } else if (!strcmp(argv[0], "bootstrap")) {
                snprintf(out, outsize, "ok %s", bootstraps);
                return;

        } else if (!strcmp(argv[0], "help")) {
                snprintf(out, outsize,
                         "ok commands: ping | bootstrap | broker-down <id> | "
                         "broker-up <id> | rtt <id> <ms> | "
                         "push-errors <apikey> <err> [count] | "
                         "broker-push-errors <id> <apikey> <err> [count] "
                         "[rtt_ms] | clear-errors <apikey> | "
                         "create-topic <name> <partitions> [replication] | "
                         "delete-topic <name> | "
                         "set-leader <topic> <partition> <id|-1> | "
                         "coordinator <group|transaction> <key> <id> | "
                         "topic-error <topic> <err> | "
                         "advertise <id> <host> <port> | quit");
                return;

        } else if (!strcmp(argv[0], "broker-down") ||
                   !strcmp(argv[0], "broker-up")) {
                if (argc != 2)
                        USAGE("broker-down|broker-up <id>");
                BROKER_ID(argv[1], &a);
                if (!strcmp(argv[0], "broker-down"))
                        err = rd_kafka_mock_broker_set_down(mcluster,
                                                            (int32_t)a);
                else
                        err = rd_kafka_mock_broker_set_up(mcluster, (int32_t)a);

        } else if (!strcmp(argv[0], "rtt")) {
                if (argc != 3)
                        USAGE("rtt <id> <ms>");
                BROKER_ID(argv[1], &a);
                if (parse_int(argv[2], 0, 3600000, &b))
                        USAGE("rtt <id> <ms>");
                err = rd_kafka_mock_broker_set_rtt(mcluster, (int32_t)a,
                                                   (int)b);

        } else if (!strcmp(argv[0], "push-errors")) {
                int16_t apikey;
                rd_kafka_resp_err_t perr, *errs;
                long i;
                if (argc < 3 || argc > 4)
                        USAGE("push-errors <apikey> <err> [count]");
                if (parse_apikey(argv[1], &apikey)) {
                        snprintf(out, outsize, "error unknown apikey '%s'",
                                 argv[1]);
                        return;
                }
                if (parse_err(argv[2], &perr)) {
                        snprintf(out, outsize, "error unknown error '%s'",
                                 argv[2]);
                        return;
                }
                c = 1;
                if (argc == 4 && parse_int(argv[3], 1, 100000, &c))
                        USAGE("push-errors <apikey> <err> [count]");
                errs = calloc((size_t)c, sizeof(*errs));
                for (i = 0; i < c; i++)
                        errs[i] = perr;
                rd_kafka_mock_push_request_errors_array(mcluster, apikey,
                                                        (size_t)c, errs);
                free(errs);

        } else if (!strcmp(argv[0], "broker-push-errors")) {
                int16_t apikey;
                rd_kafka_resp_err_t perr;
                long i, rtt = 0;
                if (argc < 4 || argc > 6)
                        USAGE(
                            "broker-push-errors <id> <apikey> <err> [count] "
                            "[rtt_ms]");
                BROKER_ID(argv[1], &a);
                if (parse_apikey(argv[2], &apikey)) {
                        snprintf(out, outsize, "error unknown apikey '%s'",
                                 argv[2]);
                        return;
                }
                if (parse_err(argv[3], &perr)) {
                        snprintf(out, outsize, "error unknown error '%s'",
                                 argv[3]);
                        return;
                }
                c = 1;
                if (argc >= 5 && parse_int(argv[4], 1, 100000, &c))
                        USAGE("broker-push-errors <id> <apikey> <err> [count] "
                              "[rtt_ms]");
                if (argc == 6 && parse_int(argv[5], 0, 3600000, &rtt))
                        USAGE("broker-push-errors <id> <apikey> <err> [count] "
                              "[rtt_ms]");
                for (i = 0; i < c && !err; i++)
                        err = rd_kafka_mock_broker_push_request_error_rtts(
                            mcluster, (int32_t)a, apikey, 1, perr, (int)rtt);

        } else if (!strcmp(argv[0], "clear-errors")) {
                int16_t apikey;
                if (argc != 2 || parse_apikey(argv[1], &apikey))
                        USAGE("clear-errors <apikey>");
                rd_kafka_mock_clear_request_errors(mcluster, apikey);

        } else if (!strcmp(argv[0], "create-topic")) {
                if (argc < 3 || argc > 4)
                        USAGE("create-topic <name> <partitions> [replication]");
                if (parse_int(argv[2], 1, 100000, &a))
                        USAGE("create-topic <name> <partitions> [replication]");
                b = broker_cnt < 3 ? broker_cnt : 3;
                if (argc == 4 && parse_int(argv[3], 1, broker_cnt, &b))
                        USAGE("create-topic <name> <partitions> [replication]");
                err = rd_kafka_mock_topic_create(mcluster, argv[1], (int)a,
                                                 (int)b);

        } else if (!strcmp(argv[0], "delete-topic")) {
                if (argc != 2)
                        USAGE("delete-topic <name>");
                err = rd_kafka_mock_topic_delete(mcluster, argv[1]);

        } else if (!strcmp(argv[0], "set-leader")) {
                if (argc != 4 || parse_int(argv[2], 0, 100000, &a) ||
                    parse_int(argv[3], -1, broker_cnt, &b) || b == 0)
                        USAGE("set-leader <topic> <partition> <id|-1>");
                err = rd_kafka_mock_partition_set_leader(
                    mcluster, argv[1], (int32_t)a, (int32_t)b);

        } else if (!strcmp(argv[0], "coordinator")) {
                if (argc != 4 || (strcmp(argv[1], "group") &&
                                  strcmp(argv[1], "transaction")))
                        USAGE("coordinator <group|transaction> <key> <id>");
                BROKER_ID(argv[3], &a);
                err = rd_kafka_mock_coordinator_set(mcluster, argv[1], argv[2],
                                                    (int32_t)a);

        } else if (!strcmp(argv[0], "topic-error")) {
                rd_kafka_resp_err_t terr;
                if (argc != 3 || parse_err(argv[2], &terr))
                        USAGE("topic-error <topic> <err>");
                rd_kafka_mock_topic_set_error(mcluster, argv[1], terr);

        } else if (!strcmp(argv[0], "advertise")) {
                /* Lets a test put a TLS-terminating proxy in front of a broker:
                 * Metadata then sends clients to the proxy, not the plain port. */
                if (argc != 4 || parse_int(argv[3], 1, 65535, &b))
                        USAGE("advertise <id> <host> <port>");
                BROKER_ID(argv[1], &a);
                rd_kafka_mock_broker_set_host_port(mcluster, (int32_t)a,
                                                   argv[2], (int)b);

        } else if (!strcmp(argv[0], "quit")) {
                run = 0;

        } else {
                snprintf(out, outsize, "error unknown command '%s' (try help)",
                         argv[0]);
                return;
        }

        if (err)
                snprintf(out, outsize, "error %s", rd_kafka_err2str(err));
        else
                snprintf(out, outsize, "ok");
}

static void write_all(int fd, const char *s, size_t len) {
        while (len > 0) {
                ssize_t r = write(fd, s, len);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                s += r;
                len -= (size_t)r;
        }
}

/* Feeds bytes into a client's line buffer, handling complete lines.
 * Returns -1 if the line is too long. */
static int feed(struct client *cl, int outfd, const char *data, size_t len,
                const char *who) {
        size_t i;
        for (i = 0; i < len; i++) {
                if (data[i] == '\n') {
                        char reply[LINE_MAX_LEN];
                        cl->buf[cl->len] = '\0';
                        if (cl->len > 0 && cl->buf[cl->len - 1] == '\r')
                                cl->buf[--cl->len] = '\0';
                        if (cl->len > 0)
                                logmsg("control(%s): %s", who, cl->buf);
                        handle_command(cl->buf, reply, sizeof(reply));
                        cl->len = 0;
                        if (reply[0]) {
                                size_t rl = strlen(reply);
                                reply[rl++] = '\n';
                                write_all(outfd, reply, rl);
                        }
                } else if (cl->len + 1 >= sizeof(cl->buf)) {
                        return -1;
                } else {
                        cl->buf[cl->len++] = data[i];
                }
        }
        return 0;
}

static int listen_control(int port) {
        struct sockaddr_in sin;
        int on = 1;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        memset(&sin, 0, sizeof(sin));
        sin.sin_family      = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sin.sin_port        = htons((uint16_t)port);
        if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
            listen(fd, 16) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

static void usage(const char *me) {
        fprintf(stderr,
                "Usage: %s [options]\n"
                "  --brokers N             number of brokers (default 3)\n"
                "  --port-base P           broker N listens on 127.0.0.1:P+N-1 "
                "(default 39092; 0 = random ports)\n"
                "  --control-port P        control port on 127.0.0.1 "
                "(default 39090; 0 = disabled)\n"
                "  --partitions N          partitions of auto-created topics "
                "(default 3)\n"
                "  --rebalance-delay-ms N  group initial rebalance delay "
                "(default 100; Kafka's default is 3000)\n"
                "  --topic NAME:PARTS      pre-create a topic (repeatable)\n"
                "  --brokers-file PATH     write the bootstrap address there\n"
                "  --pid-file PATH         write the process id there\n"
                "  --exit-on-stdin-eof     quit when stdin is closed\n"
                "  --verbose               log mock protocol debugging\n",
                me);
}

int main(int argc, char **argv) {
        long port_base = 39092, control_port = 39090, partitions = 3,
             rebalance_delay = 100, v;
        const char *brokers_file = NULL, *pid_file = NULL;
        int exit_on_eof          = 0;
        char *topics[64];
        int topic_cnt = 0;
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        char errstr[512], envbuf[32];
        int ctl_fd = -1, stdin_open = 1, i;
        struct client clients[MAX_CLIENTS];
        struct client stdin_cl = {.fd = 0};
        struct sigaction sa;

        for (i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_INT(min, max, dst)                                                \
        do {                                                                   \
                if (parse_int(val, min, max, &v)) {                            \
                        fprintf(stderr, "Invalid value for %s\n", a);          \
                        return 2;                                              \
                }                                                              \
                dst = v;                                                       \
                i++;                                                           \
        } while (0)
                if (!strcmp(a, "--brokers"))
                        NEED_INT(1, 64, broker_cnt);
                else if (!strcmp(a, "--port-base"))
                        NEED_INT(0, 65535 - 64, port_base);
                else if (!strcmp(a, "--control-port"))
                        NEED_INT(0, 65535, control_port);
                else if (!strcmp(a, "--partitions"))
                        NEED_INT(1, 10000, partitions);
                else if (!strcmp(a, "--rebalance-delay-ms"))
                        NEED_INT(0, 600000, rebalance_delay);
                else if (!strcmp(a, "--topic") && val && topic_cnt < 64) {
                        topics[topic_cnt++] = argv[++i];
                } else if (!strcmp(a, "--brokers-file") && val)
                        brokers_file = argv[++i];
                else if (!strcmp(a, "--pid-file") && val)
                        pid_file = argv[++i];
                else if (!strcmp(a, "--exit-on-stdin-eof"))
                        exit_on_eof = 1;
                else if (!strcmp(a, "--verbose"))
                        verbose = 1;
                else {
                        usage(argv[0]);
                        return !strcmp(a, "--help") || !strcmp(a, "-h") ? 0
                                                                         : 2;
                }
        }

        /* Read by the patched mock (see librdkafka-mock.patch). */
        if (port_base > 0) {
                snprintf(envbuf, sizeof(envbuf), "%ld", port_base);
                setenv("RDKAFKA_MOCK_PORT_BASE", envbuf, 1);
        } else
                unsetenv("RDKAFKA_MOCK_PORT_BASE");
        snprintf(envbuf, sizeof(envbuf), "%ld", partitions);
        setenv("RDKAFKA_MOCK_DEFAULT_PARTITIONS", envbuf, 1);

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        /* Bind the control port first so a second instance fails fast. */
        if (control_port > 0) {
                ctl_fd = listen_control((int)control_port);
                if (ctl_fd < 0) {
                        logmsg("cannot listen on control port 127.0.0.1:%ld: "
                               "%s",
                               control_port, strerror(errno));
                        return 1;
                }
        }

        conf = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(conf, rk_log_cb);
        if (verbose &&
            rd_kafka_conf_set(conf, "debug", "mock", errstr, sizeof(errstr)))
                logmsg("%s", errstr);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                logmsg("rd_kafka_new failed: %s", errstr);
                return 1;
        }

        mcluster = rd_kafka_mock_cluster_new(rk, broker_cnt);
        if (!mcluster) {
                logmsg("failed to create mock cluster (ports %ld..%ld in "
                       "use?)",
                       port_base, port_base + broker_cnt - 1);
                rd_kafka_destroy(rk);
                return 1;
        }
        rd_kafka_mock_group_initial_rebalance_delay_ms(mcluster,
                                                       (int32_t)rebalance_delay);
        bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);

        for (i = 0; i < topic_cnt; i++) {
                char *name = topics[i];
                char *colon = strrchr(name, ':');
                long parts = partitions;
                rd_kafka_resp_err_t err;
                if (colon) {
                        *colon = '\0';
                        if (parse_int(colon + 1, 1, 100000, &parts)) {
                                logmsg("invalid --topic %s", name);
                                return 2;
                        }
                }
                err = rd_kafka_mock_topic_create(
                    mcluster, name, (int)parts, broker_cnt < 3 ? broker_cnt : 3);
                if (err)
                        logmsg("create topic %s failed: %s", name,
                               rd_kafka_err2str(err));
        }

        if (brokers_file) {
                FILE *fp = fopen(brokers_file, "w");
                if (!fp || fprintf(fp, "%s\n", bootstraps) < 0 || fclose(fp)) {
                        logmsg("cannot write %s: %s", brokers_file,
                               strerror(errno));
                        return 1;
                }
        }
        if (pid_file) {
                FILE *fp = fopen(pid_file, "w");
                if (fp) {
                        fprintf(fp, "%d\n", (int)getpid());
                        fclose(fp);
                }
        }

        logmsg("%d broker(s) at %s, control port %ld, auto-created topics get "
               "%ld partitions, initial rebalance delay %ld ms",
               broker_cnt, bootstraps, control_port, partitions,
               rebalance_delay);
        /* First stdout line: machine-readable bootstrap address. */
        printf("bootstrap %s\n", bootstraps);
        fflush(stdout);

        for (i = 0; i < MAX_CLIENTS; i++)
                clients[i].fd = -1;

        while (run) {
                struct pollfd pfds[MAX_CLIENTS + 2];
                int idx[MAX_CLIENTS + 2];
                int n = 0, r;

                if (stdin_open) {
                        pfds[n].fd     = 0;
                        pfds[n].events = POLLIN;
                        idx[n++]       = -2;
                }
                if (ctl_fd >= 0) {
                        pfds[n].fd     = ctl_fd;
                        pfds[n].events = POLLIN;
                        idx[n++]       = -1;
                }
                for (i = 0; i < MAX_CLIENTS; i++) {
                        if (clients[i].fd < 0)
                                continue;
                        pfds[n].fd     = clients[i].fd;
                        pfds[n].events = POLLIN;
                        idx[n++]       = i;
                }

                r = poll(pfds, (nfds_t)n, 1000);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        logmsg("poll: %s", strerror(errno));
                        break;
                }

                for (i = 0; i < n && run; i++) {
                        char buf[4096];
                        ssize_t rd;

                        if (!pfds[i].revents)
                                continue;

                        if (idx[i] == -2) {
                                rd = read(0, buf, sizeof(buf));
                                if (rd <= 0) {
                                        stdin_open = 0;
                                        if (exit_on_eof) {
                                                logmsg("stdin closed, "
                                                       "exiting");
                                                run = 0;
                                        }
                                } else if (feed(&stdin_cl, 1, buf, (size_t)rd,
                                                "stdin")) {
                                        stdin_cl.len = 0;
                                        write_all(1, "error line too long\n",
                                                  20);
                                }
                                fflush(stdout);

                        } else if (idx[i] == -1) {
                                int cfd = accept4(ctl_fd, NULL, NULL,
                                                  SOCK_CLOEXEC);
                                int k;
                                if (cfd < 0)
                                        continue;
                                for (k = 0; k < MAX_CLIENTS; k++)
                                        if (clients[k].fd < 0)
                                                break;
                                if (k == MAX_CLIENTS) {
                                        write_all(cfd,
                                                  "error too many clients\n",
                                                  23);
                                        close(cfd);
                                        continue;
                                }
                                clients[k].fd  = cfd;
                                clients[k].len = 0;

                        } else {
                                struct client *cl = &clients[idx[i]];
                                rd = read(cl->fd, buf, sizeof(buf));
                                if (rd <= 0 ||
                                    feed(cl, cl->fd, buf, (size_t)rd, "tcp")) {
                                        close(cl->fd);
                                        cl->fd = -1;
                                }
                        }
                }
        }

        logmsg("shutting down");
        for (i = 0; i < MAX_CLIENTS; i++)
                if (clients[i].fd >= 0)
                        close(clients[i].fd);
        if (ctl_fd >= 0)
                close(ctl_fd);
        rd_kafka_mock_cluster_destroy(mcluster);
        rd_kafka_destroy(rk);
        if (pid_file)
                unlink(pid_file);
        return 0;
}
