/*
 * native.c: a native target, a small single-threaded HTTP/1.1 keep-alive server (poll(2)).
 *
 * Build and run:  cc -O2 -o /tmp/lh-native tests/targets/native.c
 *                 PORT=3150 MODE=leak LEAK_BYTES=1024 /tmp/lh-native
 * (scripts/accuracy.sh builds it into a temporary folder.)
 *
 * MODE (default clean) picks what /work keeps per request:
 *   clean  nothing (no allocation per request at all).
 *   leak   BUG: malloc(LEAK_BYTES) (default 1024) per request, every byte written (so the pages
 *          are touched and RSS grows), chained into a list that is never freed: ~LEAK_BYTES +
 *          16 B of malloc header per request in glibc's heap.
 * Endpoints: /work (any method), /health, /stats ({"kept": N, "kept_bytes": B}); 404 otherwise.
 * Plain and bounded: at most MAX_CONN connections (the rest wait in the backlog), an 8 KiB
 * request-head buffer and a 16 KiB output buffer per connection (a head that does not fit gets
 * 431 and the connection closes), bodies (Content-Length only; chunked gets 411) are read and
 * discarded, pipelined requests are answered in order, "Connection: close" and HTTP/1.0
 * without keep-alive close after the answer. Listens on 127.0.0.1:$PORT only. Exits when its
 * parent process dies (PR_SET_PDEATHSIG, and getppid() checked every second), like common.js.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONN 1024
#define IN_CAP 8192
#define OUT_CAP 16384

struct conn {
    int fd;
    size_t in_len;
    size_t out_len, out_off;
    unsigned long long body_left; /* body bytes of the current request still to discard */
    int close_after;              /* close once the output is flushed */
    char in[IN_CAP];
    char out[OUT_CAP];
};

static struct conn *conns[MAX_CONN];
static struct pollfd pfds[MAX_CONN + 1];
static int leak_mode;
static size_t leak_bytes = 1024;
static unsigned long long seq, kept;
static void *kept_head; /* BUG (MODE=leak): each block's first word points at the previous one */

static void die(const char *msg) {
    perror(msg);
    exit(1);
}

static void conn_close(int i) {
    close(conns[i]->fd);
    free(conns[i]);
    conns[i] = NULL;
}

/* Appends an answer to the connection's output buffer; 0 when it does not fit. */
static int respond(struct conn *c, int status, const char *reason, const char *body, int close_it) {
    size_t room = OUT_CAP - c->out_len;
    int n = snprintf(c->out + c->out_len, room,
                     "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n%s\r\n%s",
                     status, reason, strlen(body), close_it ? "connection: close\r\n" : "", body);
    if (n < 0 || (size_t)n >= room) return 0;
    c->out_len += (size_t)n;
    if (close_it) c->close_after = 1;
    return 1;
}

static void work(void) {
    seq++;
    if (!leak_mode || leak_bytes < sizeof(void *)) return;
    char *p = malloc(leak_bytes);
    if (!p) return;
    memset(p, (int)(seq % 251) + 1, leak_bytes);
    *(void **)p = kept_head;
    kept_head = p;
    kept++;
}

/* Case-insensitive search for a header's value within the head [h, end). */
static const char *header(const char *h, const char *end, const char *name, size_t *len) {
    size_t nl = strlen(name);
    const char *line = memchr(h, '\n', (size_t)(end - h));
    while (line && line + 1 < end) {
        line++;
        if ((size_t)(end - line) > nl + 1 && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (v < end && (*v == ' ' || *v == '\t')) v++;
            const char *e = v;
            while (e < end && *e != '\r' && *e != '\n') e++;
            *len = (size_t)(e - v);
            return v;
        }
        line = memchr(line, '\n', (size_t)(end - line));
    }
    return NULL;
}

/* Answers every complete request head in the input buffer (stops when output is nearly full). */
static void serve(struct conn *c) {
    for (;;) {
        if (c->body_left > 0) {
            size_t drop = c->in_len < c->body_left ? c->in_len : (size_t)c->body_left;
            memmove(c->in, c->in + drop, c->in_len - drop);
            c->in_len -= drop;
            c->body_left -= drop;
            if (c->body_left > 0) return;
        }
        if (c->close_after || c->out_len > OUT_CAP / 2) return;
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!end) {
            if (c->in_len == IN_CAP) respond(c, 431, "Request Header Fields Too Large", "{\"error\":\"head too large\"}", 1);
            return;
        }
        size_t head_len = (size_t)(end - c->in) + 4;
        char method[16] = {0}, target[1024] = {0}, version[16] = {0};
        /* The request line: METHOD SP TARGET SP VERSION. */
        const char *sp1 = memchr(c->in, ' ', head_len);
        const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', head_len - (size_t)(sp1 + 1 - c->in)) : NULL;
        const char *eol = memchr(c->in, '\r', head_len);
        if (!sp1 || !sp2 || !eol || sp2 > eol || (size_t)(sp1 - c->in) >= sizeof method ||
            (size_t)(sp2 - sp1 - 1) >= sizeof target || (size_t)(eol - sp2 - 1) >= sizeof version) {
            respond(c, 400, "Bad Request", "{\"error\":\"bad request line\"}", 1);
            return;
        }
        memcpy(method, c->in, (size_t)(sp1 - c->in));
        memcpy(target, sp1 + 1, (size_t)(sp2 - sp1 - 1));
        memcpy(version, sp2 + 1, (size_t)(eol - sp2 - 1));
        size_t vlen;
        const char *v;
        int close_it = strcmp(version, "HTTP/1.1") != 0;
        if ((v = header(c->in, c->in + head_len, "connection", &vlen))) {
            if (vlen == 5 && strncasecmp(v, "close", 5) == 0) close_it = 1;
            if (vlen == 10 && strncasecmp(v, "keep-alive", 10) == 0) close_it = 0;
        }
        unsigned long long body = 0;
        if ((v = header(c->in, c->in + head_len, "content-length", &vlen))) {
            char num[24] = {0};
            if (vlen >= sizeof num) vlen = sizeof num - 1;
            memcpy(num, v, vlen);
            body = strtoull(num, NULL, 10);
        }
        int chunked = header(c->in, c->in + head_len, "transfer-encoding", &vlen) != NULL;
        memmove(c->in, c->in + head_len, c->in_len - head_len);
        c->in_len -= head_len;
        c->body_left = body;
        if (chunked) {
            respond(c, 411, "Length Required", "{\"error\":\"chunked bodies are not supported\"}", 1);
            return;
        }
        char *q = strchr(target, '?');
        if (q) *q = '\0';
        char buf[96];
        if (strcmp(target, "/health") == 0) {
            respond(c, 200, "OK", "{\"ok\":true}", close_it);
        } else if (strcmp(target, "/work") == 0) {
            work();
            snprintf(buf, sizeof buf, "{\"seq\":%llu}", seq);
            respond(c, 200, "OK", buf, close_it);
        } else if (strcmp(target, "/stats") == 0) {
            snprintf(buf, sizeof buf, "{\"kept\":%llu,\"kept_bytes\":%llu}", kept,
                     kept * (unsigned long long)leak_bytes);
            respond(c, 200, "OK", buf, close_it);
        } else {
            respond(c, 404, "Not Found", "{\"error\":\"not found\"}", close_it);
        }
    }
}

/* 1: keep the connection, 0: close it. */
static int flush_out(struct conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        c->out_off += (size_t)n;
    }
    c->out_len = c->out_off = 0;
    return !c->close_after;
}

int main(void) {
    const char *p = getenv("PORT");
    long port = p ? strtol(p, NULL, 10) : 0;
    if (port < 1 || port > 65535) {
        fprintf(stderr, "native: set PORT to a port number (got %s)\n", p ? p : "nothing");
        return 2;
    }
    const char *m = getenv("MODE");
    if (m && strcmp(m, "leak") == 0) leak_mode = 1;
    else if (m && *m && strcmp(m, "clean") != 0) {
        fprintf(stderr, "native: MODE must be clean or leak (got %s)\n", m);
        return 2;
    }
    const char *lb = getenv("LEAK_BYTES");
    if (lb && *lb) {
        long v = strtol(lb, NULL, 10);
        if (v < 0 || v > (1L << 20)) {
            fprintf(stderr, "native: LEAK_BYTES must be 0..1048576 (got %s)\n", lb);
            return 2;
        }
        leak_bytes = (size_t)v;
    }
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) return 0;
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (listen(lfd, 1024) < 0) die("listen");
    printf("native-%s listening on http://127.0.0.1:%ld (pid %d)\n", leak_mode ? "leak" : "clean", port, getpid());
    fflush(stdout);

    for (;;) {
        /* pfds[0] is the listener; pfds[1 + i] is conns[i] (fd -1 when the slot is free). */
        int open = 0;
        for (int i = 0; i < MAX_CONN; i++) {
            struct conn *c = conns[i];
            pfds[1 + i].fd = c ? c->fd : -1;
            pfds[1 + i].revents = 0;
            if (!c) continue;
            open++;
            short ev = 0;
            if (c->out_len > c->out_off) ev |= POLLOUT;
            if (!c->close_after && c->out_len <= OUT_CAP / 2 && c->in_len < IN_CAP) ev |= POLLIN;
            pfds[1 + i].events = ev;
        }
        pfds[0].fd = lfd;
        pfds[0].events = open < MAX_CONN ? POLLIN : 0;
        pfds[0].revents = 0;
        int n = poll(pfds, MAX_CONN + 1, 1000);
        if (getppid() != parent) return 0;
        if (n < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (pfds[0].revents & POLLIN) {
            for (int k = 0; k < 64; k++) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) break;
                int slot = -1;
                for (int i = 0; i < MAX_CONN; i++)
                    if (!conns[i]) { slot = i; break; }
                struct conn *c = slot >= 0 ? malloc(sizeof *c) : NULL;
                if (!c) { close(fd); break; }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c->fd = fd;
                c->in_len = c->out_len = c->out_off = 0;
                c->body_left = 0;
                c->close_after = 0;
                conns[slot] = c;
            }
        }
        for (int i = 0; i < MAX_CONN; i++) {
            struct conn *c = conns[i];
            short re = pfds[1 + i].revents;
            if (!c || !re) continue;
            if (re & POLLIN) {
                ssize_t r = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                    conn_close(i);
                    continue;
                }
                if (r > 0) c->in_len += (size_t)r;
                serve(c);
            } else if (re & (POLLERR | POLLHUP | POLLNVAL)) {
                conn_close(i);
                continue;
            }
            if (!flush_out(c)) { conn_close(i); continue; }
            serve(c); /* output drained: answer requests that waited for room */
            if (!flush_out(c)) conn_close(i);
        }
    }
}
