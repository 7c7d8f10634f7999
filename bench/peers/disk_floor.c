/* The disk floor of bench/peers: what the filesystem under the data dir gives a durable log.
 *
 *   disk_floor --dir D --writers 1 --duration S [--size 256] [--prealloc BYTES]
 *       one writer: write(size bytes, O_APPEND) + fdatasync, in a loop;
 *   disk_floor --dir D --writers N --group --duration S [--size 256]
 *       an ideal in-process group commit: N writer threads each hand one record to a shared
 *       batch and wait until a flusher thread has written the batch (one write) and covered it
 *       with one fdatasync; the flusher takes the next batch as soon as the previous sync ends.
 *
 * Each op's latency runs from the writer's hand-off to its wake-up after the covering sync.
 * The file is a fresh append-only file in D (deleted at the end), preallocated like an IronBus
 * segment (fallocate FALLOC_FL_KEEP_SIZE, 64 MiB; --prealloc 0 turns that off). Prints one JSON line with
 * this process's own write_bytes delta, CPU seconds and peak RSS (it is its own "broker"). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "peers_common.h"

static const char *g_dir = NULL;
static int g_writers = 1;
static bool g_group = false;
static double g_duration = 5;
static size_t g_size = 256;
static long long g_prealloc = 64ll << 20; /* like an IronBus segment (max_segment_bytes) */
static int g_fd = -1;
static uint64_t g_deadline = 0;

/* group commit state */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_work = PTHREAD_COND_INITIALIZER;   /* flusher waits for records */
static pthread_cond_t g_synced = PTHREAD_COND_INITIALIZER; /* writers wait for their sync */
static unsigned char *g_batch = NULL;
static size_t g_batch_len = 0, g_batch_cap = 0;
static uint64_t g_next_seq = 0;    /* records handed off */
static uint64_t g_durable_seq = 0; /* records covered by a finished fdatasync */
static bool g_stop = false;
static uint64_t g_syncs = 0;

typedef struct {
  int index;
  uint64_t ops;
  lat_t lat;
} writer_t;

static void *writer_main(void *arg) {
  writer_t *w = (writer_t *)arg;
  unsigned char *rec = malloc(g_size);
  fill_random(rec, g_size, (uint64_t)w->index + 7);
  while (now_ns() < g_deadline) {
    uint64_t t0 = now_ns();
    pthread_mutex_lock(&g_mu);
    if (g_batch_len + g_size > g_batch_cap) {
      g_batch_cap = (g_batch_len + g_size) * 2;
      g_batch = realloc(g_batch, g_batch_cap);
    }
    memcpy(g_batch + g_batch_len, rec, g_size);
    g_batch_len += g_size;
    uint64_t my = ++g_next_seq;
    pthread_cond_signal(&g_work);
    while (g_durable_seq < my) pthread_cond_wait(&g_synced, &g_mu);
    pthread_mutex_unlock(&g_mu);
    lat_add(&w->lat, now_ns() - t0);
    w->ops++;
  }
  free(rec);
  return NULL;
}

static void *flusher_main(void *arg) {
  (void)arg;
  unsigned char *mine = NULL;
  size_t mine_cap = 0;
  pthread_mutex_lock(&g_mu);
  for (;;) {
    while (g_batch_len == 0 && !g_stop) pthread_cond_wait(&g_work, &g_mu);
    if (g_batch_len == 0 && g_stop) break;
    if (mine_cap < g_batch_len) {
      mine_cap = g_batch_cap;
      mine = realloc(mine, mine_cap);
    }
    size_t len = g_batch_len;
    memcpy(mine, g_batch, len);
    g_batch_len = 0;
    uint64_t upto = g_next_seq;
    pthread_mutex_unlock(&g_mu);
    if (write(g_fd, mine, len) != (ssize_t)len) die("write failed");
    if (fdatasync(g_fd) != 0) die("fdatasync failed");
    pthread_mutex_lock(&g_mu);
    g_syncs++;
    g_durable_seq = upto;
    pthread_cond_broadcast(&g_synced);
  }
  pthread_mutex_unlock(&g_mu);
  free(mine);
  return NULL;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--dir") && i + 1 < argc) g_dir = argv[++i];
    else if (!strcmp(argv[i], "--writers") && i + 1 < argc) g_writers = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--group")) g_group = true;
    else if (!strcmp(argv[i], "--duration") && i + 1 < argc) g_duration = atof(argv[++i]);
    else if (!strcmp(argv[i], "--size") && i + 1 < argc) g_size = (size_t)atol(argv[++i]);
    else if (!strcmp(argv[i], "--prealloc") && i + 1 < argc) g_prealloc = atoll(argv[++i]);
    else {
      fprintf(stderr, "usage: disk_floor --dir D [--writers N] [--group] [--duration S] [--size B] [--prealloc B]\n");
      return 1;
    }
  }
  if (!g_dir || g_writers < 1 || g_size < 1 || g_duration <= 0) {
    fprintf(stderr, "disk_floor: --dir is required; --writers, --size, --duration positive\n");
    return 1;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/disk-floor-%d.log", g_dir, (int)getpid());
  g_fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
  if (g_fd < 0) die("cannot create the floor file");
  /* The broker's segments are preallocated with a keep-size fallocate; so is the floor's file
   * (--prealloc 0: plain appends that allocate blocks as they go). */
  if (g_prealloc > 0 && fallocate(g_fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)g_prealloc) != 0) g_prealloc = -1;

  const long long wb0 = self_write_bytes();
  const double cpu0 = self_cpu_s();
  lat_t all = {0};
  uint64_t ops = 0;
  const uint64_t start = now_ns();
  g_deadline = start + (uint64_t)(g_duration * 1e9);
  if (!g_group) {
    if (g_writers != 1) die("without --group only --writers 1 is meaningful");
    unsigned char *rec = malloc(g_size);
    fill_random(rec, g_size, 1);
    while (now_ns() < g_deadline) {
      uint64_t t0 = now_ns();
      if (write(g_fd, rec, g_size) != (ssize_t)g_size) die("write failed");
      if (fdatasync(g_fd) != 0) die("fdatasync failed");
      lat_add(&all, now_ns() - t0);
      ops++;
    }
    g_syncs = ops;
    free(rec);
  } else {
    pthread_t flusher;
    pthread_create(&flusher, NULL, flusher_main, NULL);
    writer_t *ws = calloc((size_t)g_writers, sizeof(writer_t));
    pthread_t *ts = calloc((size_t)g_writers, sizeof(pthread_t));
    for (int i = 0; i < g_writers; ++i) {
      ws[i].index = i;
      pthread_create(&ts[i], NULL, writer_main, &ws[i]);
    }
    for (int i = 0; i < g_writers; ++i) {
      pthread_join(ts[i], NULL);
      ops += ws[i].ops;
      lat_merge(&all, &ws[i].lat);
    }
    pthread_mutex_lock(&g_mu);
    g_stop = true;
    pthread_cond_signal(&g_work);
    pthread_mutex_unlock(&g_mu);
    pthread_join(flusher, NULL);
  }
  const double elapsed = (double)(now_ns() - start) / 1e9;
  const long long wb1 = self_write_bytes();
  const double cpu1 = self_cpu_s();
  close(g_fd);
  unlink(path);
  char extra[512];
  snprintf(extra, sizeof extra,
           "\"writers\":%d,\"group_commit\":%s,\"size\":%zu,\"prealloc_bytes\":%lld,\"fdatasyncs\":%llu,\"self_write_bytes\":%lld,"
           "\"self_cpu_s\":%.3f,\"self_vmhwm_kb\":%ld",
           g_writers, g_group ? "true" : "false", g_size, g_prealloc, (unsigned long long)g_syncs,
           (wb0 >= 0 && wb1 >= 0) ? wb1 - wb0 : -1, cpu1 - cpu0, self_vmhwm_kb());
  print_result("disk_floor", g_group ? "group" : "single", ops, elapsed, &all, extra);
  return 0;
}
