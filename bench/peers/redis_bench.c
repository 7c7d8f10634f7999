/* The Redis Streams client of bench/peers (hiredis).
 *
 *   redis_bench --port P [--host 127.0.0.1] --mode pub [--producers N] [--window W]
 *               (--duration S | --count N) [--size B] [--stream K]
 *       XADD K * p <payload>: N connections (one thread each); window 1 waits for each reply;
 *       window W keeps W XADDs in flight on the connection (sliding: a new one goes out as each
 *       reply comes back). Latency: from the send of a command to the arrival of its reply.
 *   redis_bench --port P --mode drain-group --count N [--batch B]
 *       XGROUP CREATE K g 0, then XREADGROUP GROUP g c COUNT B STREAMS K > and one XACK per
 *       message (the XACKs of a batch pipelined in one write) until N messages are acked.
 *   redis_bench --port P --mode drain-xread --count N [--batch B]
 *       XREAD COUNT B STREAMS K <last id>: a reader without a group (no acks) until N messages.
 *
 * With --appendfsync always the server fdatasyncs the AOF before it sends the replies of an
 * event-loop turn, so every reply counted here is on disk. Prints one JSON line. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdbool.h>

#include "peers_common.h"

static const char *g_host = "127.0.0.1";
static int g_port = 0;
static const char *g_mode = "pub";
static int g_producers = 1;
static int g_window = 1;
static double g_duration = 0;
static uint64_t g_count = 0;
static size_t g_size = 256;
static int g_batch = 256;
static const char *g_stream = "bench";
static uint64_t g_deadline = UINT64_MAX;
static uint64_t g_claimed = 0; /* count mode: records claimed over all producers */

static redisContext *connect_or_die(void) {
  struct timeval tv = {10, 0};
  redisContext *c = redisConnectWithTimeout(g_host, g_port, tv);
  if (!c || c->err) {
    fprintf(stderr, "error: cannot connect to redis %s:%d: %s\n", g_host, g_port, c ? c->errstr : "alloc");
    exit(5);
  }
  return c;
}

static bool claim(void) {
  if (g_count > 0) return __atomic_fetch_add(&g_claimed, 1, __ATOMIC_RELAXED) < g_count;
  return now_ns() < g_deadline;
}

static void check_reply(redisReply *r, const char *what) {
  if (!r) die(what);
  if (r->type == REDIS_REPLY_ERROR) {
    fprintf(stderr, "error: %s: %s\n", what, r->str);
    exit(70);
  }
}

typedef struct {
  int index;
  uint64_t ops;
  lat_t lat;
} producer_t;

static void *producer_main(void *arg) {
  producer_t *p = (producer_t *)arg;
  redisContext *c = connect_or_die();
  unsigned char *payload = malloc(g_size);
  fill_random(payload, g_size, (uint64_t)p->index + 1);
  if (g_window <= 1) {
    while (claim()) {
      uint64_t t0 = now_ns();
      redisReply *r = redisCommand(c, "XADD %s * p %b", g_stream, payload, g_size);
      check_reply(r, "XADD");
      freeReplyObject(r);
      lat_add(&p->lat, now_ns() - t0);
      p->ops++;
    }
  } else {
    uint64_t *sent = calloc((size_t)g_window, sizeof(uint64_t)); /* ring of send times */
    size_t head = 0, inflight = 0;
    bool more = true;
    for (;;) {
      while (more && inflight < (size_t)g_window) {
        if (!claim()) {
          more = false;
          break;
        }
        redisAppendCommand(c, "XADD %s * p %b", g_stream, payload, g_size);
        sent[(head + inflight) % (size_t)g_window] = now_ns();
        inflight++;
      }
      if (inflight == 0) break;
      redisReply *r = NULL;
      if (redisGetReply(c, (void **)&r) != REDIS_OK) die("XADD (pipelined): connection lost");
      check_reply(r, "XADD");
      freeReplyObject(r);
      lat_add(&p->lat, now_ns() - sent[head]);
      head = (head + 1) % (size_t)g_window;
      inflight--;
      p->ops++;
    }
    free(sent);
  }
  free(payload);
  redisFree(c);
  return NULL;
}

/* The server's appendfsync and appendonly settings, as "always/yes" (checked, not assumed). */
static void durability_settings(char *out, size_t n) {
  redisContext *c = connect_or_die();
  char fsync_v[32] = "?", aof_v[32] = "?";
  redisReply *r = redisCommand(c, "CONFIG GET appendfsync");
  if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) snprintf(fsync_v, sizeof fsync_v, "%s", r->element[1]->str);
  if (r) freeReplyObject(r);
  r = redisCommand(c, "CONFIG GET appendonly");
  if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) snprintf(aof_v, sizeof aof_v, "%s", r->element[1]->str);
  if (r) freeReplyObject(r);
  redisFree(c);
  snprintf(out, n, "\"appendonly\":\"%s\",\"appendfsync\":\"%s\"", aof_v, fsync_v);
}

static int run_pub(void) {
  char durability[128];
  durability_settings(durability, sizeof durability);
  producer_t *ps = calloc((size_t)g_producers, sizeof(producer_t));
  pthread_t *ts = calloc((size_t)g_producers, sizeof(pthread_t));
  const uint64_t start = now_ns();
  if (g_duration > 0) g_deadline = start + (uint64_t)(g_duration * 1e9);
  for (int i = 0; i < g_producers; ++i) {
    ps[i].index = i;
    pthread_create(&ts[i], NULL, producer_main, &ps[i]);
  }
  lat_t all = {0};
  uint64_t ops = 0;
  for (int i = 0; i < g_producers; ++i) {
    pthread_join(ts[i], NULL);
    ops += ps[i].ops;
    lat_merge(&all, &ps[i].lat);
  }
  const double elapsed = (double)(now_ns() - start) / 1e9;
  char extra[512];
  snprintf(extra, sizeof extra, "\"producers\":%d,\"window\":%d,\"size\":%zu,%s", g_producers, g_window, g_size,
           durability);
  print_result("redis_bench", "pub", ops, elapsed, &all, extra);
  return 0;
}

/* Walks an XREAD/XREADGROUP reply: [[stream, [[id, [f, v]], ...]]]; returns the entries array. */
static redisReply *entries_of(redisReply *r) {
  if (!r || r->type == REDIS_REPLY_NIL) return NULL;
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) return NULL;
  redisReply *s = r->element[0];
  if (s->type != REDIS_REPLY_ARRAY || s->elements < 2) return NULL;
  return s->element[1];
}

static int run_drain(bool group) {
  if (g_count == 0) die("drain modes need --count");
  redisContext *c = connect_or_die();
  if (group) {
    redisReply *r = redisCommand(c, "XGROUP CREATE %s g 0 MKSTREAM", g_stream);
    check_reply(r, "XGROUP CREATE");
    freeReplyObject(r);
  }
  char last_id[64] = "0-0";
  uint64_t done = 0, bytes = 0, rounds = 0;
  const uint64_t start = now_ns();
  while (done < g_count) {
    int want = g_batch;
    if ((uint64_t)want > g_count - done) want = (int)(g_count - done);
    redisReply *r = group ? redisCommand(c, "XREADGROUP GROUP g c COUNT %d STREAMS %s >", want, g_stream)
                          : redisCommand(c, "XREAD COUNT %d STREAMS %s %s", want, g_stream, last_id);
    check_reply(r, group ? "XREADGROUP" : "XREAD");
    redisReply *es = entries_of(r);
    if (!es || es->elements == 0) {
      freeReplyObject(r);
      fprintf(stderr, "error: the stream ran dry after %llu of %llu messages\n", (unsigned long long)done,
              (unsigned long long)g_count);
      exit(70);
    }
    for (size_t i = 0; i < es->elements; ++i) {
      redisReply *e = es->element[i];
      const char *id = e->element[0]->str;
      if (e->elements >= 2 && e->element[1]->type == REDIS_REPLY_ARRAY && e->element[1]->elements >= 2) {
        bytes += e->element[1]->element[1]->len;
      }
      if (group) redisAppendCommand(c, "XACK %s g %s", g_stream, id);
      if (i + 1 == es->elements) snprintf(last_id, sizeof last_id, "%s", id);
    }
    const size_t n = es->elements;
    freeReplyObject(r);
    if (group) {
      for (size_t i = 0; i < n; ++i) {
        redisReply *a = NULL;
        if (redisGetReply(c, (void **)&a) != REDIS_OK) die("XACK: connection lost");
        check_reply(a, "XACK");
        if (a->type != REDIS_REPLY_INTEGER || a->integer != 1) die("XACK did not ack exactly one entry");
        freeReplyObject(a);
      }
    }
    done += n;
    rounds++;
  }
  const double elapsed = (double)(now_ns() - start) / 1e9;
  long long pending = -1; /* the group's pending entries after the drain: 0 when every XACK landed */
  if (group) {
    redisReply *r = redisCommand(c, "XPENDING %s g", g_stream);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_INTEGER) {
      pending = r->element[0]->integer;
    }
    if (r) freeReplyObject(r);
  }
  redisFree(c);
  char extra[256];
  snprintf(extra, sizeof extra, "\"batch\":%d,\"reads\":%llu,\"payload_bytes\":%llu,\"pending_after\":%lld", g_batch,
           (unsigned long long)rounds, (unsigned long long)bytes, pending);
  print_result("redis_bench", group ? "drain-group" : "drain-xread", done, elapsed, NULL, extra);
  return 0;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) goto usage;
    if (!strcmp(a, "--host")) g_host = v;
    else if (!strcmp(a, "--port")) g_port = atoi(v);
    else if (!strcmp(a, "--mode")) g_mode = v;
    else if (!strcmp(a, "--producers")) g_producers = atoi(v);
    else if (!strcmp(a, "--window")) g_window = atoi(v);
    else if (!strcmp(a, "--duration")) g_duration = atof(v);
    else if (!strcmp(a, "--count")) g_count = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--size")) g_size = (size_t)atol(v);
    else if (!strcmp(a, "--batch")) g_batch = atoi(v);
    else if (!strcmp(a, "--stream")) g_stream = v;
    else goto usage;
    ++i;
  }
  if (g_port <= 0 || g_producers < 1 || g_window < 1 || g_batch < 1 || g_size < 1) goto usage;
  if (!strcmp(g_mode, "pub")) {
    if ((g_duration > 0) == (g_count > 0)) goto usage;
    return run_pub();
  }
  if (!strcmp(g_mode, "drain-group")) return run_drain(true);
  if (!strcmp(g_mode, "drain-xread")) return run_drain(false);
usage:
  fprintf(stderr,
          "usage: redis_bench --port P [--host H] --mode pub|drain-group|drain-xread [--producers N] [--window W]\n"
          "                   (--duration S | --count N) [--size B] [--batch B] [--stream K]\n");
  return 1;
}
