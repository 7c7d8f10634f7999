/* The NATS JetStream client of bench/peers (libnats / cnats).
 *
 *   nats_bench --port P [--host 127.0.0.1] --mode pub-sync [--producers N] (--duration S | --count N)
 *       js_Publish (waits for each PubAck): N connections, one thread each.
 *   nats_bench --port P --mode pub-async --window W (--duration S | --count N)
 *       js_PublishAsync on one connection with PublishAsync.MaxPending = W; each payload starts
 *       with its send time, the PubAck handler records send -> ack.
 *   nats_bench --port P --mode drain-explicit --count N [--batch B]
 *       a durable pull consumer with AckExplicit: natsSubscription_Fetch(B), natsMsg_Ack each.
 *   nats_bench --port P --mode drain-ackall --count N [--batch B]
 *       a durable pull consumer with AckAll: natsSubscription_Fetch(B), natsMsg_Ack of the last
 *       message of each batch only (it acks every earlier sequence too).
 *
 * Every mode creates the stream BENCH (subject bench.data, file storage) when it is missing.
 * JetStream answers a PubAck once the message is in its file store's buffers, not after an
 * fsync: the results are "not power-loss safe". natsMsg_Ack does not wait for the server.
 * Prints one JSON line. */
#define _GNU_SOURCE
#include <nats/nats.h>
#include <pthread.h>
#include <stdbool.h>

#include "peers_common.h"

#define STREAM "BENCH"
#define SUBJECT "bench.data"

static const char *g_host = "127.0.0.1";
static int g_port = 0;
static const char *g_mode = "pub-sync";
static int g_producers = 1;
static int g_window = 256;
static double g_duration = 0;
static uint64_t g_count = 0;
static size_t g_size = 256;
static int g_batch = 256;
static uint64_t g_deadline = UINT64_MAX;
static uint64_t g_claimed = 0;

static void check(natsStatus s, const char *what) {
  if (s != NATS_OK) {
    fprintf(stderr, "error: %s: %s (%s)\n", what, natsStatus_GetText(s), nats_GetLastError(NULL));
    exit(s == NATS_NO_SERVER ? 5 : 70);
  }
}

static void connect_js(natsConnection **nc, jsCtx **js, jsOptions *jo) {
  char url[256];
  snprintf(url, sizeof url, "nats://%s:%d", g_host, g_port);
  natsOptions *opts = NULL;
  check(natsOptions_Create(&opts), "natsOptions_Create");
  check(natsOptions_SetURL(opts, url), "natsOptions_SetURL");
  check(natsOptions_SetTimeout(opts, 10000), "natsOptions_SetTimeout");
  check(natsConnection_Connect(nc, opts), "connect");
  natsOptions_Destroy(opts);
  check(natsConnection_JetStream(js, *nc, jo), "JetStream context");
}

static void ensure_stream(jsCtx *js) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = STREAM;
  const char *subjects[] = {SUBJECT};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  jsErrCode jerr = 0;
  jsStreamInfo *si = NULL;
  natsStatus s = js_AddStream(&si, js, &cfg, NULL, &jerr);
  if (s != NATS_OK) {
    /* already there (a previous phase of the same run created it) */
    natsStatus g = js_GetStreamInfo(&si, js, STREAM, NULL, &jerr);
    check(g, "js_AddStream / js_GetStreamInfo");
  }
  jsStreamInfo_Destroy(si);
}

static bool claim(void) {
  if (g_count > 0) return __atomic_fetch_add(&g_claimed, 1, __ATOMIC_RELAXED) < g_count;
  return now_ns() < g_deadline;
}

typedef struct {
  int index;
  uint64_t ops;
  lat_t lat;
} producer_t;

static void *sync_producer(void *arg) {
  producer_t *p = (producer_t *)arg;
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  connect_js(&nc, &js, NULL);
  unsigned char *payload = malloc(g_size);
  fill_random(payload, g_size, (uint64_t)p->index + 1);
  while (claim()) {
    uint64_t t0 = now_ns();
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    check(js_Publish(&pa, js, SUBJECT, payload, (int)g_size, NULL, &jerr), "js_Publish");
    jsPubAck_Destroy(pa);
    lat_add(&p->lat, now_ns() - t0);
    p->ops++;
  }
  free(payload);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return NULL;
}

static int run_pub_sync(void) {
  {
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    connect_js(&nc, &js, NULL);
    ensure_stream(js);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
  producer_t *ps = calloc((size_t)g_producers, sizeof(producer_t));
  pthread_t *ts = calloc((size_t)g_producers, sizeof(pthread_t));
  const uint64_t start = now_ns();
  if (g_duration > 0) g_deadline = start + (uint64_t)(g_duration * 1e9);
  for (int i = 0; i < g_producers; ++i) {
    ps[i].index = i;
    pthread_create(&ts[i], NULL, sync_producer, &ps[i]);
  }
  lat_t all = {0};
  uint64_t ops = 0;
  for (int i = 0; i < g_producers; ++i) {
    pthread_join(ts[i], NULL);
    ops += ps[i].ops;
    lat_merge(&all, &ps[i].lat);
  }
  const double elapsed = (double)(now_ns() - start) / 1e9;
  char extra[256];
  snprintf(extra, sizeof extra, "\"producers\":%d,\"window\":1,\"size\":%zu,\"power_loss_safe\":false", g_producers,
           g_size);
  print_result("nats_bench", "pub-sync", ops, elapsed, &all, extra);
  return 0;
}

/* PubAck handler (the library's delivery thread only): send time is in the first 8 bytes. */
static lat_t g_async_lat = {0};
static uint64_t g_async_acked = 0, g_async_errors = 0;

static void on_pub_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
  (void)js;
  (void)closure;
  const uint64_t now = now_ns();
  if (pa != NULL && natsMsg_GetDataLength(msg) >= 8) {
    uint64_t t0;
    memcpy(&t0, natsMsg_GetData(msg), 8);
    lat_add(&g_async_lat, now - t0);
    __atomic_fetch_add(&g_async_acked, 1, __ATOMIC_RELAXED);
  } else if (pae != NULL) {
    __atomic_fetch_add(&g_async_errors, 1, __ATOMIC_RELAXED);
  }
  natsMsg_Destroy(msg);
}

static int run_pub_async(void) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = g_window;
  jo.PublishAsync.AckHandler = on_pub_ack;
  jo.PublishAsync.StallWait = 30000;
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  connect_js(&nc, &js, &jo);
  ensure_stream(js);
  unsigned char *payload = malloc(g_size < 8 ? 8 : g_size);
  fill_random(payload, g_size, 1);
  const uint64_t start = now_ns();
  if (g_duration > 0) g_deadline = start + (uint64_t)(g_duration * 1e9);
  uint64_t sent = 0;
  while (claim()) {
    uint64_t t0 = now_ns();
    memcpy(payload, &t0, 8);
    check(js_PublishAsync(js, SUBJECT, payload, (int)g_size, NULL), "js_PublishAsync");
    sent++;
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 60000;
  check(js_PublishAsyncComplete(js, &po), "js_PublishAsyncComplete");
  const double elapsed = (double)(now_ns() - start) / 1e9;
  /* the handler may still be returning from the last callback */
  for (int i = 0; i < 1000 && __atomic_load_n(&g_async_acked, __ATOMIC_RELAXED) +
                                      __atomic_load_n(&g_async_errors, __ATOMIC_RELAXED) < sent; ++i) {
    nats_Sleep(1);
  }
  const uint64_t acked = __atomic_load_n(&g_async_acked, __ATOMIC_RELAXED);
  const uint64_t errors = __atomic_load_n(&g_async_errors, __ATOMIC_RELAXED);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  if (errors > 0) {
    fprintf(stderr, "error: %llu async publishes failed\n", (unsigned long long)errors);
    return 70;
  }
  char extra[256];
  snprintf(extra, sizeof extra, "\"producers\":1,\"window\":%d,\"size\":%zu,\"sent\":%llu,\"power_loss_safe\":false",
           g_window, g_size, (unsigned long long)sent);
  print_result("nats_bench", "pub-async", acked, elapsed, &g_async_lat, extra);
  return 0;
}

static int run_drain(bool ackall) {
  if (g_count == 0) die("drain modes need --count");
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  connect_js(&nc, &js, NULL);
  ensure_stream(js);
  const char *durable = ackall ? "drain_ackall" : "drain_explicit";
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = durable;
  cc.AckPolicy = ackall ? js_AckAll : js_AckExplicit;
  cc.DeliverPolicy = js_DeliverAll;
  cc.AckWait = (int64_t)60 * 1000000000;  /* ns: no redelivery during a run */
  cc.MaxAckPending = 65536;
  jsConsumerInfo *ci = NULL;
  jsErrCode jerr = 0;
  check(js_AddConsumer(&ci, js, STREAM, &cc, NULL, &jerr), "js_AddConsumer");
  jsConsumerInfo_Destroy(ci);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = STREAM;
  so.Consumer = durable;
  natsSubscription *sub = NULL;
  check(js_PullSubscribe(&sub, js, SUBJECT, durable, NULL, &so, &jerr), "js_PullSubscribe");
  uint64_t done = 0, bytes = 0, fetches = 0, acks = 0;
  const uint64_t start = now_ns();
  while (done < g_count) {
    int want = g_batch;
    if ((uint64_t)want > g_count - done) want = (int)(g_count - done);
    natsMsgList list = {0};
    natsStatus s = natsSubscription_Fetch(&list, sub, want, 5000, &jerr);
    if (s == NATS_TIMEOUT) {
      fprintf(stderr, "error: the stream ran dry after %llu of %llu messages\n", (unsigned long long)done,
              (unsigned long long)g_count);
      return 70;
    }
    check(s, "natsSubscription_Fetch");
    fetches++;
    for (int i = 0; i < list.Count; ++i) {
      bytes += (uint64_t)natsMsg_GetDataLength(list.Msgs[i]);
      if (!ackall || i + 1 == list.Count) {
        check(natsMsg_Ack(list.Msgs[i], NULL), "natsMsg_Ack");
        acks++;
      }
    }
    done += (uint64_t)list.Count;
    natsMsgList_Destroy(&list);
  }
  /* the acks are fire-and-forget: a flush makes sure the server has read them all */
  check(natsConnection_FlushTimeout(nc, 30000), "flush");
  const double elapsed = (double)(now_ns() - start) / 1e9;
  /* check the server saw every ack: nothing pending, the ack floor at the last message */
  int64_t ack_pending = -1;
  uint64_t ack_floor = 0;
  if (js_GetConsumerInfo(&ci, js, STREAM, durable, NULL, &jerr) == NATS_OK) {
    for (int i = 0; i < 100 && ci->NumAckPending > 0; ++i) {
      jsConsumerInfo_Destroy(ci);
      ci = NULL;
      nats_Sleep(20);
      if (js_GetConsumerInfo(&ci, js, STREAM, durable, NULL, &jerr) != NATS_OK) break;
    }
    if (ci) {
      ack_pending = ci->NumAckPending;
      ack_floor = ci->AckFloor.Stream;
      jsConsumerInfo_Destroy(ci);
    }
  }
  natsSubscription_Destroy(sub);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  char extra[256];
  snprintf(extra, sizeof extra,
           "\"batch\":%d,\"fetches\":%llu,\"acks\":%llu,\"payload_bytes\":%llu,\"ack_pending_after\":%lld,"
           "\"ack_floor_after\":%llu,\"power_loss_safe\":false",
           g_batch, (unsigned long long)fetches, (unsigned long long)acks, (unsigned long long)bytes,
           (long long)ack_pending, (unsigned long long)ack_floor);
  print_result("nats_bench", ackall ? "drain-ackall" : "drain-explicit", done, elapsed, NULL, extra);
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
    else goto usage;
    ++i;
  }
  if (g_port <= 0 || g_producers < 1 || g_window < 1 || g_batch < 1 || g_size < 8) goto usage;
  int rc;
  if (!strcmp(g_mode, "pub-sync") || !strcmp(g_mode, "pub-async")) {
    if ((g_duration > 0) == (g_count > 0)) goto usage;
    rc = !strcmp(g_mode, "pub-sync") ? run_pub_sync() : run_pub_async();
  } else if (!strcmp(g_mode, "drain-explicit")) {
    rc = run_drain(false);
  } else if (!strcmp(g_mode, "drain-ackall")) {
    rc = run_drain(true);
  } else {
    goto usage;
  }
  nats_Close();
  return rc;
usage:
  fprintf(stderr,
          "usage: nats_bench --port P [--host H] --mode pub-sync|pub-async|drain-explicit|drain-ackall\n"
          "                  [--producers N] [--window W] (--duration S | --count N) [--size B] [--batch B]\n");
  return 1;
}
