/* Shared helpers of the bench/peers clients (redis_bench.c, nats_bench.c, disk_floor.c):
 * the clock, a growable latency sample array with exact percentiles, random payloads, the
 * process's own /proc counters and the one-line JSON result every client prints on stdout. */
#ifndef IRONBUS_BENCH_PEERS_COMMON_H
#define IRONBUS_BENCH_PEERS_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void die(const char *what) {
  fprintf(stderr, "error: %s\n", what);
  exit(70);
}

/* Latency samples in nanoseconds; one array per thread, merged at the end. */
typedef struct {
  uint64_t *v;
  size_t n, cap;
} lat_t;

static inline void lat_add(lat_t *l, uint64_t ns) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 65536;
    l->v = (uint64_t *)realloc(l->v, l->cap * sizeof(uint64_t));
    if (!l->v) die("out of memory (latency samples)");
  }
  l->v[l->n++] = ns;
}

static inline void lat_merge(lat_t *into, const lat_t *from) {
  for (size_t i = 0; i < from->n; ++i) lat_add(into, from->v[i]);
}

static int lat_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile in microseconds; the array is sorted on first use. */
static inline double lat_pct_us(lat_t *l, double pct) {
  if (l->n == 0) return -1;
  static const lat_t *sorted = NULL;
  if (sorted != l) {
    qsort(l->v, l->n, sizeof(uint64_t), lat_cmp);
    sorted = l;
  }
  size_t rank = (size_t)((pct / 100.0) * (double)l->n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > l->n) rank = l->n;
  return (double)l->v[rank - 1] / 1000.0;
}

static inline void fill_random(unsigned char *p, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p[i] = (unsigned char)x;
  }
}

/* This process's write_bytes from /proc/self/io (-1 when unreadable). */
static inline long long self_write_bytes(void) {
  FILE *f = fopen("/proc/self/io", "r");
  if (!f) return -1;
  char line[256];
  long long v = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "write_bytes:", 12) == 0) v = atoll(line + 12);
  }
  fclose(f);
  return v;
}

/* utime+stime of this process in seconds. */
static inline double self_cpu_s(void) {
  FILE *f = fopen("/proc/self/stat", "r");
  if (!f) return -1;
  char buf[2048];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  unsigned long long ut = 0, st = 0;
  /* after ")": state(3) ... utime is field 14, stime 15 */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static inline long self_vmhwm_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long v = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmHWM:", 6) == 0) v = atol(line + 6);
  }
  fclose(f);
  return v;
}

/* The result line: {"client":..,"mode":..,"msgs":..,"elapsed_s":..,"msgs_per_sec":..,
 * "p50_us":..,"p99_us":..,"p999_us":..[,extra]} (latencies null without samples). */
static inline void print_result(const char *client, const char *mode, uint64_t msgs, double elapsed_s,
                                lat_t *lat, const char *extra_json) {
  printf("{\"client\":\"%s\",\"mode\":\"%s\",\"msgs\":%llu,\"elapsed_s\":%.6f,\"msgs_per_sec\":%.3f", client,
         mode, (unsigned long long)msgs, elapsed_s, elapsed_s > 0 ? (double)msgs / elapsed_s : 0.0);
  if (lat && lat->n > 0) {
    printf(",\"latency_samples\":%zu,\"p50_us\":%.3f,\"p99_us\":%.3f,\"p999_us\":%.3f,\"max_us\":%.3f", lat->n,
           lat_pct_us(lat, 50), lat_pct_us(lat, 99), lat_pct_us(lat, 99.9), lat_pct_us(lat, 100));
  } else {
    printf(",\"latency_samples\":0,\"p50_us\":null,\"p99_us\":null,\"p999_us\":null,\"max_us\":null");
  }
  if (extra_json && *extra_json) printf(",%s", extra_json);
  printf("}\n");
  fflush(stdout);
}

#endif
