package local

// lslCPU reads the limit of the segment Linux keeps per CPU for the
// vDSO's getcpu (GDT entry 15, selector 0x7b): the CPU number in its low
// 12 bits, the NUMA node above. ok is false when the selector is not
// there to read.
func lslCPU() (v uint32, ok bool)
