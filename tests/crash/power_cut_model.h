// The model and the checks shared by the power-cut sweeps: what was appended at which offset,
// what was acknowledged, and the invariants a recovered log must satisfy against them.
//
//   I2  every acknowledged record is present, identical, at its acknowledged offset;
//   I1  no phantom: every record read back was appended at exactly that offset;
//   I3  every offset below the recovered head that is missing is covered by a reported loss
//       event; offsets at or above the head were never acknowledged (a cut tail).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>

#include "base/bytes.h"
#include "format/compression.h"
#include "format/record_format.h"
#include "io/sim_file_system.h"
#include "recovery/loss_report.h"
#include "storage/log.h"

namespace ironbus::crash {

// Scale for CI time: IRONBUS_SWEEP_SCALE=0.25 runs a quarter of the seeds (sanitizer builds).
inline int ScaledSeeds(int seeds) {
  const char* s = std::getenv("IRONBUS_SWEEP_SCALE");
  const double scale = s != nullptr ? std::atof(s) : 1.0;
  const int n = static_cast<int>(seeds * (scale > 0 ? scale : 1.0));
  return n < 1 ? 1 : n;
}

// A seeded power-cut mode: mostly torn and reordered, sometimes all or nothing of the unsynced.
inline io::PowerCutMode ModeFor(std::mt19937_64& rng) {
  const uint64_t r = rng() % 8;
  return r == 0 ? io::PowerCutMode::kDropAll : r == 1 ? io::PowerCutMode::kKeepAll : io::PowerCutMode::kRandom;
}

// A record's payload as its producer sent it (inflated when the log stored it compressed).
inline Bytes StoredPayload(const format::Record& r) {
  if ((r.flags & format::kFlagCompressed) == 0) return r.payload;
  Bytes out;
  EXPECT_EQ(format::Decompress(r.payload, &out), format::DecompressError::kOk);
  return out;
}

// A payload that names its seed and offset, so a misplaced or invented record is caught.
// Sizes vary; some are long and repetitive so lz4 compression kicks in (>= 1 KiB).
inline Bytes ModelPayload(uint64_t seed, uint64_t offset, size_t size) {
  std::string s = "seed=" + std::to_string(seed) + ";offset=" + std::to_string(offset) + ";";
  while (s.size() < size) s += "abcdefgh";
  s.resize(std::max(size, s.find(';', s.find("offset")) + 1));
  return ToBytes(s);
}

struct Model {
  std::map<uint64_t, Bytes> appended;  // offset -> payload, every append the log accepted
  std::set<uint64_t> acked;            // offsets whose covering sync returned Ok
};

// Reads the whole log and checks I1-I3 against the model. Returns the offsets read.
inline std::set<uint64_t> CheckRecoveredLog(const storage::Log& log, const recovery::LossReport& report,
                                            const Model& model, uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " (rerun: IRONBUS_SWEEP_SEED=" + std::to_string(seed) + ")");
  std::set<uint64_t> present;
  uint64_t offset = log.first_offset();
  while (offset < log.readable_offset()) {
    auto batch = log.Read(offset, 512, 8ull << 20);
    if (!batch.ok()) {
      ADD_FAILURE() << "read at " << offset << ": " << batch.status().ToString();
      return present;
    }
    for (const auto& r : batch->records) {
      auto it = model.appended.find(r.offset);
      if (it == model.appended.end()) {
        ADD_FAILURE() << "phantom record at offset " << r.offset;
        continue;
      }
      Bytes payload = r.record.payload;
      if ((r.record.flags & format::kFlagCompressed) != 0) {
        // Compressed by the writer: compare the decompressed bytes.
        Bytes out;
        EXPECT_EQ(format::Decompress(r.record.payload, &out), format::DecompressError::kOk) << "offset " << r.offset;
        payload = out;
      }
      EXPECT_EQ(payload, it->second) << "record at offset " << r.offset << " differs from what was appended";
      present.insert(r.offset);
    }
    if (batch->next_offset <= offset) break;
    offset = batch->next_offset;
  }
  for (uint64_t o : model.acked) {
    EXPECT_TRUE(present.count(o)) << "acknowledged record at offset " << o << " is missing (head "
                                  << log.durable_offset() << ")";
  }
  // Holes below the head must be reported.
  for (uint64_t o = log.first_offset(); o < log.durable_offset(); ++o) {
    if (present.count(o)) continue;
    bool covered = false;
    for (const auto& e : report.events) {
      if (e.first_lost_offset <= o && o < e.end_lost_offset) covered = true;
    }
    EXPECT_TRUE(covered) << "offset " << o << " is missing below the head and no loss event covers it";
  }
  for (const auto& e : report.events) {
    for (uint64_t o : model.acked) {
      if (e.data_loss() && e.first_lost_offset <= o && o < e.end_lost_offset) {
        ADD_FAILURE() << "a loss event covers acknowledged offset " << o;
      }
    }
  }
  return present;
}

}  // namespace ironbus::crash
