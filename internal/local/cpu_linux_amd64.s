#include "textflag.h"

// func lslCPU() (v uint32, ok bool)
TEXT ·lslCPU(SB), NOSPLIT, $0-5
	MOVL $0x7b, CX
	LSLL CX, AX
	SETEQ ok+4(FP)
	MOVL AX, v+0(FP)
	RET
