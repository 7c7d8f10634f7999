// Authentication of an encrypted segment at open (spec/security.md 5.5). Runs after
// RecoverSegment, on the records its CRC-level scan accepted, and turns what cannot be opened
// into loss events that go through the normal caps:
//   - no loaded key has the segment's key id, or its suite is unknown to this build: the
//     whole record range [64, valid_end) is one UnknownKeyId event and one SkippedSpan (it
//     replaces the spans and events the scan reported inside that range);
//   - a record whose bytes are intact (CRCs passed) but whose tag fails under the loaded key
//     (wrong key, forgery): AeadTagMismatch, one event and one SkippedSpan per run of
//     consecutive failing frames, with their exact byte range and offsets.
// The segment's record_count, last_seq and index keep describing the frames on disk (a footer
// written later must agree with the next scan); readers step over the new spans.
// Such spans are never cut and never quarantined: the ciphertext stays where it is (it may
// open under the right key at a later start) and no plaintext is written anywhere.
//
// Decision (docs/security.md): every record is authenticated at open, so a wrong key or a
// tampered record is a reported loss event at startup, never a read-time surprise. Cost: one
// decrypt pass over the log at open.
//
// Thread safety: uses only its arguments.
#pragma once

#include "base/result.h"
#include "format/key_ring.h"
#include "format/segment.h"
#include "io/file_system.h"
#include "recovery/segment_recovery.h"

namespace ironbus::recovery {

// `out` is RecoverSegment's result for the segment `header` describes (encrypted). `keys` may
// be null (no key loaded). Sets out->state.aead_suite / key_id. IOError when a read fails.
Status AuthenticateSegment(io::File* file, const format::SegmentHeader& header, const format::KeyRing* keys,
                           SegmentOutcome* out);

}  // namespace ironbus::recovery
