// What the CPU offers that picks an algorithm: AES instructions decide the at-rest AEAD suite
// (format/aead) and the TLS suite order (security/tls); both ask here so they always agree.
#pragma once

namespace ironbus {

// x86 AES-NI (cpuid leaf 1, ECX bit 25); aarch64 HWCAP_AES via getauxval. Other CPUs: false.
bool CpuHasAes();

}  // namespace ironbus
