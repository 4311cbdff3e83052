/*
 * perf.c: throughput and latency tools with the arguments and output lines
 * of libzmq's perf programs (local_thr, remote_thr, local_lat, remote_lat),
 * so that any side can be swapped for `switchboard bench` or for libzmq's
 * own tools. Built once per tool by build.sh with -DTOOL_xxx.
 *
 * With -DPLAIN_TCP the same four tools run over a plain TCP socket instead
 * of libzmq: each message is a 4-byte big-endian length and the body, sent
 * through a 64 KiB user-space buffer flushed when full or when the program
 * waits for an answer. That is the ceiling a messaging library on TCP can
 * reach; ci/bench.d/zmq.sh prints every result as a ratio to it.
 *
 * Written for switchboard; it is not part of the Go module (no cgo there).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline void print_thr(int size, int count, uint64_t elapsed)
{
    if (elapsed == 0)
        elapsed = 1;
    double throughput = (double)count / (double)elapsed * 1000000.0;
    double megabits = throughput * size * 8 / 1000000.0;
    printf("message size: %d [B]\n", size);
    printf("message count: %d\n", count);
    printf("mean throughput: %d [msg/s]\n", (int)throughput);
    printf("mean throughput: %.3f [Mb/s]\n", megabits);
}

static inline void print_lat(int size, int count, uint64_t elapsed)
{
    printf("message size: %d [B]\n", size);
    printf("roundtrip count: %d\n", count);
    printf("average latency: %.3f [us]\n", (double)elapsed / (count * 2.0));
}

#if defined(TOOL_local_thr)
#define TOOL "local_thr"
#define ARGS "<bind-to> <message-size> <message-count>"
#elif defined(TOOL_remote_thr)
#define TOOL "remote_thr"
#define ARGS "<connect-to> <message-size> <message-count>"
#elif defined(TOOL_local_lat)
#define TOOL "local_lat"
#define ARGS "<bind-to> <message-size> <roundtrip-count>"
#elif defined(TOOL_remote_lat)
#define TOOL "remote_lat"
#define ARGS "<connect-to> <message-size> <roundtrip-count>"
#else
#error "build with -DTOOL_local_thr, -DTOOL_remote_thr, -DTOOL_local_lat or -DTOOL_remote_lat"
#endif

#ifndef PLAIN_TCP
/* ---------------------------------------------------------------- libzmq */
#include <zmq.h>

#define CHECK(cond, what)                                                   \
    do {                                                                    \
        if (!(cond)) {                                                      \
            printf("error in %s: %s\n", what, zmq_strerror(zmq_errno()));   \
            return -1;                                                      \
        }                                                                   \
    } while (0)

static int run(const char *ep, int size, int count)
{
    void *ctx = zmq_ctx_new();
    CHECK(ctx, "zmq_ctx_new");
    zmq_msg_t msg;
    int rc;
#if defined(TOOL_local_thr)
    void *s = zmq_socket(ctx, ZMQ_PULL);
    CHECK(s, "zmq_socket");
    CHECK(zmq_bind(s, ep) == 0, "zmq_bind");
    CHECK(zmq_msg_init(&msg) == 0, "zmq_msg_init");
    uint64_t start = 0;
    for (int i = 0; i < count; i++) {
        rc = zmq_msg_recv(&msg, s, 0);
        CHECK(rc >= 0, "zmq_msg_recv");
        if ((int)zmq_msg_size(&msg) != size) {
            printf("message of incorrect size received\n");
            return -1;
        }
        if (i == 0)
            start = now_us(); /* like libzmq: the clock starts after the first */
    }
    uint64_t elapsed = now_us() - start;
    zmq_msg_close(&msg);
    print_thr(size, count, elapsed);
#elif defined(TOOL_remote_thr)
    void *s = zmq_socket(ctx, ZMQ_PUSH);
    CHECK(s, "zmq_socket");
    CHECK(zmq_connect(s, ep) == 0, "zmq_connect");
    for (int i = 0; i < count; i++) {
        CHECK(zmq_msg_init_size(&msg, size) == 0, "zmq_msg_init_size");
        rc = zmq_msg_send(&msg, s, 0);
        CHECK(rc >= 0, "zmq_msg_send");
    }
#elif defined(TOOL_local_lat)
    void *s = zmq_socket(ctx, ZMQ_REP);
    CHECK(s, "zmq_socket");
    CHECK(zmq_bind(s, ep) == 0, "zmq_bind");
    CHECK(zmq_msg_init(&msg) == 0, "zmq_msg_init");
    for (int i = 0; i < count; i++) {
        rc = zmq_msg_recv(&msg, s, 0);
        CHECK(rc >= 0, "zmq_msg_recv");
        if ((int)zmq_msg_size(&msg) != size) {
            printf("message of incorrect size received\n");
            return -1;
        }
        rc = zmq_msg_send(&msg, s, 0);
        CHECK(rc >= 0, "zmq_msg_send");
    }
    zmq_msg_close(&msg);
#elif defined(TOOL_remote_lat)
    void *s = zmq_socket(ctx, ZMQ_REQ);
    CHECK(s, "zmq_socket");
    CHECK(zmq_connect(s, ep) == 0, "zmq_connect");
    CHECK(zmq_msg_init_size(&msg, size) == 0, "zmq_msg_init_size");
    memset(zmq_msg_data(&msg), 0, size);
    uint64_t start = now_us();
    for (int i = 0; i < count; i++) {
        rc = zmq_msg_send(&msg, s, 0);
        CHECK(rc >= 0, "zmq_msg_send");
        rc = zmq_msg_recv(&msg, s, 0);
        CHECK(rc >= 0, "zmq_msg_recv");
        if ((int)zmq_msg_size(&msg) != size) {
            printf("message of incorrect size received\n");
            return -1;
        }
    }
    uint64_t elapsed = now_us() - start;
    zmq_msg_close(&msg);
    print_lat(size, count, elapsed);
#endif
    CHECK(zmq_close(s) == 0, "zmq_close");
    CHECK(zmq_ctx_term(ctx) == 0, "zmq_ctx_term");
    return 0;
}

#else
/* ------------------------------------------------------------- plain TCP */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ 65536

struct conn {
    int fd;
    unsigned char *wbuf, *rbuf;
    size_t wlen, rpos, rlen;
};

static int fail(const char *what)
{
    printf("error in %s: %s\n", what, strerror(errno));
    return -1;
}

/* Splits tcp://HOST:PORT (HOST may be [v6] or *). */
static int parse_ep(const char *ep, char *host, size_t hlen, char *port, size_t plen)
{
    if (strncmp(ep, "tcp://", 6) != 0)
        return -1;
    const char *hp = ep + 6, *colon = strrchr(hp, ':');
    if (!colon || (size_t)(colon - hp) >= hlen || strlen(colon + 1) >= plen)
        return -1;
    size_t n = colon - hp;
    if (n >= 2 && hp[0] == '[' && hp[n - 1] == ']') {
        hp++;
        n -= 2;
    }
    memcpy(host, hp, n);
    host[n] = 0;
    if (strcmp(host, "*") == 0)
        strcpy(host, "0.0.0.0");
    strcpy(port, colon + 1);
    return 0;
}

static int open_conn(const char *ep, int bind_side, struct conn *c)
{
    char host[256], port[32];
    if (parse_ep(ep, host, sizeof host, port, sizeof port) != 0) {
        printf("error in endpoint: want tcp://HOST:PORT, got %s\n", ep);
        return -1;
    }
    struct addrinfo hints = {0}, *ai;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return fail("getaddrinfo");
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0)
        return fail("socket");
    int one = 1;
    if (bind_side) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
            return fail("bind");
        if (listen(fd, 1) != 0)
            return fail("listen");
        int cfd = accept(fd, NULL, NULL);
        if (cfd < 0)
            return fail("accept");
        close(fd);
        fd = cfd;
    } else {
        /* The binding side may start a moment later: retry for 10 s. */
        int tries = 0;
        while (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (++tries > 1000)
                return fail("connect");
            close(fd);
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
            fd = socket(ai->ai_family, SOCK_STREAM, 0);
        }
    }
    freeaddrinfo(ai);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->wbuf = malloc(BUFSZ);
    c->rbuf = malloc(BUFSZ);
    c->wlen = c->rpos = c->rlen = 0;
    return 0;
}

static int flush_conn(struct conn *c)
{
    size_t off = 0;
    while (off < c->wlen) {
        ssize_t n = write(c->fd, c->wbuf + off, c->wlen - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail("write");
        }
        off += n;
    }
    c->wlen = 0;
    return 0;
}

static int put(struct conn *c, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t k = BUFSZ - c->wlen;
        if (k > n)
            k = n;
        memcpy(c->wbuf + c->wlen, p, k);
        c->wlen += k;
        p += k;
        n -= k;
        if (c->wlen == BUFSZ && flush_conn(c) != 0)
            return -1;
    }
    return 0;
}

static int get(struct conn *c, unsigned char *p, size_t n)
{
    while (n > 0) {
        if (c->rpos == c->rlen) {
            ssize_t r = read(c->fd, c->rbuf, BUFSZ);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return r == 0 ? (errno = ECONNRESET, fail("read")) : fail("read");
            c->rpos = 0;
            c->rlen = r;
        }
        size_t k = c->rlen - c->rpos;
        if (k > n)
            k = n;
        memcpy(p, c->rbuf + c->rpos, k);
        c->rpos += k;
        p += k;
        n -= k;
    }
    return 0;
}

static inline int send_msg(struct conn *c, const unsigned char *body, uint32_t size)
{
    uint32_t be = htonl(size);
    if (put(c, (unsigned char *)&be, 4) != 0)
        return -1;
    return put(c, body, size);
}

static inline int recv_msg(struct conn *c, unsigned char *body, int want)
{
    uint32_t be;
    if (get(c, (unsigned char *)&be, 4) != 0)
        return -1;
    if ((int)ntohl(be) != want) {
        printf("message of incorrect size received\n");
        return -1;
    }
    return get(c, body, want);
}

static int run(const char *ep, int size, int count)
{
    struct conn c;
    unsigned char *body = calloc(1, size ? size : 1);
#if defined(TOOL_local_thr) || defined(TOOL_local_lat)
    if (open_conn(ep, 1, &c) != 0)
        return -1;
#else
    if (open_conn(ep, 0, &c) != 0)
        return -1;
#endif
#if defined(TOOL_local_thr)
    uint64_t start = 0;
    for (int i = 0; i < count; i++) {
        if (recv_msg(&c, body, size) != 0)
            return -1;
        if (i == 0)
            start = now_us();
    }
    print_thr(size, count, now_us() - start);
    unsigned char ack = 1; /* lets remote_thr close only after everything is read */
    if (write(c.fd, &ack, 1) != 1)
        return fail("write");
#elif defined(TOOL_remote_thr)
    for (int i = 0; i < count; i++)
        if (send_msg(&c, body, size) != 0)
            return -1;
    if (flush_conn(&c) != 0)
        return -1;
    unsigned char ack;
    if (read(c.fd, &ack, 1) != 1)
        return fail("read");
#elif defined(TOOL_local_lat)
    for (int i = 0; i < count; i++) {
        if (recv_msg(&c, body, size) != 0 || send_msg(&c, body, size) != 0 || flush_conn(&c) != 0)
            return -1;
    }
#elif defined(TOOL_remote_lat)
    uint64_t start = now_us();
    for (int i = 0; i < count; i++) {
        if (send_msg(&c, body, size) != 0 || flush_conn(&c) != 0 || recv_msg(&c, body, size) != 0)
            return -1;
    }
    print_lat(size, count, now_us() - start);
#endif
    close(c.fd);
    return 0;
}
#endif

int main(int argc, char *argv[])
{
    if (argc != 4) {
        printf("usage: " TOOL " " ARGS "\n");
        return 1;
    }
    int size = atoi(argv[2]), count = atoi(argv[3]);
    if (size < 0 || count < 1) {
        printf("usage: " TOOL " " ARGS "\n");
        return 1;
    }
    return run(argv[1], size, count) == 0 ? 0 : 1;
}
