/*
 * bcryptprimitives.dll for Wine 8, which has none: Go's runtime on Windows
 * takes its random bytes from ProcessPrng there, and a Go program without
 * it does not start. ProcessPrng here asks advapi32's RtlGenRandom
 * (SystemFunction036), in pieces that fit its ULONG length. scripts/test
 * builds it with mingw and copies it into the Wine prefix's system32.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
	while (length > 0) {
		ULONG n = length > 0x40000000 ? 0x40000000 : (ULONG)length;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		length -= n;
	}
	return TRUE;
}
