/*
 * For the Wine test prefix only (scripts/targets/setup.sh windows): Wine 8.0 has no
 * bcryptprimitives.dll, and Rust's standard library imports ProcessPrng from it on Windows 10
 * and later (its random source for HashMap keys and the like). Windows itself always has the
 * DLL; this stand-in forwards the one function to BCryptGenRandom with the system RNG, which
 * Wine does implement. It is never shipped.
 */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
    if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
    data += chunk;
    len -= chunk;
  }
  return TRUE;
}
