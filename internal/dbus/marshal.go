// Package dbus is a minimal D-Bus client, enough for desktop notifications
// and for tests that play a notification service: connecting to a bus over
// a Unix socket (EXTERNAL authentication), method calls and their replies,
// and the wire format of messages (marshalling of the basic types, strings,
// arrays, structs, dictionaries and variants). It has no introspection,
// no signal matching and no Unix file descriptor passing.
//
// Values travel as Go values: y byte, b bool, n int16, q uint16, i int32,
// u uint32, x int64, t uint64, d float64, h uint32, s string, o ObjectPath,
// g Signature, v Variant, an array []any (a dictionary []DictEntry), a
// struct []any. Marshalling also takes []string for "as", []byte for "ay",
// map[string]Variant for "a{sv}" and int for any integer type in range.
package dbus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// ObjectPath is a D-Bus object path (type "o").
type ObjectPath string

// Signature is a D-Bus type signature (type "g").
type Signature string

// Variant is a value with its own signature (type "v").
type Variant struct {
	Sig   Signature
	Value any
}

// DictEntry is one entry of a dictionary (an array of "{KV}").
type DictEntry struct{ Key, Value any }

// ErrFormat means bytes that are not a well-formed D-Bus message, or a
// value that does not fit its signature.
var ErrFormat = errors.New("dbus: malformed")

const (
	maxDepth     = 32       // nested arrays or structs, as the specification allows
	maxArray     = 64 << 20 // bytes of one array
	maxSignature = 255
)

// splitType returns the first complete type of sig and the rest.
func splitType(sig string) (string, string, error) {
	if sig == "" {
		return "", "", fmt.Errorf("%w: signature ends where a type was expected", ErrFormat)
	}
	switch sig[0] {
	case 'y', 'b', 'n', 'q', 'i', 'u', 'x', 't', 'd', 'h', 's', 'o', 'g', 'v':
		return sig[:1], sig[1:], nil
	case 'a':
		elem, rest, err := splitType(sig[1:])
		if err != nil {
			return "", "", err
		}
		return sig[:1+len(elem)], rest, nil
	case '(', '{':
		end := byte(')')
		if sig[0] == '{' {
			end = '}'
		}
		i, n := 1, 0
		for i < len(sig) && sig[i] != end {
			t, _, err := splitType(sig[i:])
			if err != nil {
				return "", "", err
			}
			i += len(t)
			n++
		}
		if i == len(sig) {
			return "", "", fmt.Errorf("%w: unclosed %c in signature %q", ErrFormat, sig[0], sig)
		}
		if n == 0 || (end == '}' && n != 2) {
			return "", "", fmt.Errorf("%w: bad %c...%c in signature %q", ErrFormat, sig[0], end, sig)
		}
		return sig[:i+1], sig[i+1:], nil
	}
	return "", "", fmt.Errorf("%w: unknown type %q in signature", ErrFormat, sig[0])
}

// checkSignature checks a whole signature: complete types, dictionary
// entries only as array elements with a basic key, bounded length and
// nesting.
func checkSignature(sig string) error {
	if len(sig) > maxSignature {
		return fmt.Errorf("%w: signature of %d bytes (at most %d)", ErrFormat, len(sig), maxSignature)
	}
	for rest := sig; rest != ""; {
		t, r, err := splitType(rest)
		if err != nil {
			return err
		}
		if err := checkType(t, 0, false); err != nil {
			return err
		}
		rest = r
	}
	return nil
}

func checkType(t string, depth int, inArray bool) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: signature nests deeper than %d", ErrFormat, maxDepth)
	}
	switch t[0] {
	case 'a':
		return checkType(t[1:], depth+1, true)
	case '(', '{':
		if t[0] == '{' {
			if !inArray {
				return fmt.Errorf("%w: dictionary entry %q outside an array", ErrFormat, t)
			}
			if !strings.ContainsRune("ybnqiuxtdhsog", rune(t[1])) {
				return fmt.Errorf("%w: dictionary key %q is not a basic type", ErrFormat, t[1])
			}
		}
		for inner := t[1 : len(t)-1]; inner != ""; {
			e, r, _ := splitType(inner)
			if err := checkType(e, depth+1, false); err != nil {
				return err
			}
			inner = r
		}
	}
	return nil
}

// alignment is the boundary a value of type c starts on.
func alignment(c byte) int {
	switch c {
	case 'n', 'q':
		return 2
	case 'b', 'i', 'u', 'h', 's', 'o', 'a':
		return 4
	case 'x', 't', 'd', '(', '{':
		return 8
	}
	return 1 // y, g, v
}

// encoder appends values in little-endian order. Offsets count from the
// start of the message, which is where buf starts.
type encoder struct{ buf []byte }

func (e *encoder) align(n int) {
	for len(e.buf)%n != 0 {
		e.buf = append(e.buf, 0)
	}
}

func (e *encoder) u32(v uint32) { e.buf = binary.LittleEndian.AppendUint32(e.buf, v) }

// values marshals args by sig, one complete type each.
func (e *encoder) values(sig string, args []any) error {
	if err := checkSignature(sig); err != nil {
		return err
	}
	for i := 0; sig != ""; i++ {
		t, rest, _ := splitType(sig)
		if i >= len(args) {
			return fmt.Errorf("%w: signature %q wants more than %d values", ErrFormat, t+rest, len(args))
		}
		if err := e.value(t, args[i], 0); err != nil {
			return err
		}
		sig = rest
		if sig == "" && i+1 < len(args) {
			return fmt.Errorf("%w: %d values for a signature of %d", ErrFormat, len(args), i+1)
		}
	}
	return nil
}

func mismatch(t string, v any) error {
	return fmt.Errorf("%w: cannot marshal %T as %q", ErrFormat, v, t)
}

// intRange is the range of each integer type that an int may fill.
var intRange = map[byte][2]int64{'y': {0, math.MaxUint8}, 'n': {math.MinInt16, math.MaxInt16}, 'q': {0, math.MaxUint16},
	'i': {math.MinInt32, math.MaxInt32}, 'u': {0, math.MaxUint32}, 'h': {0, math.MaxUint32}, 'x': {math.MinInt64, math.MaxInt64}}

// integer turns v (the exact Go type of t, or an int in range) into its bits.
func integer(t string, v any) (uint64, bool) {
	lo, hi := intRange[t[0]][0], intRange[t[0]][1]
	switch x := v.(type) {
	case int:
		if t[0] == 't' {
			return uint64(x), x >= 0
		}
		return uint64(x), int64(x) >= lo && int64(x) <= hi
	case byte:
		return uint64(x), t[0] == 'y'
	case int16:
		return uint64(x), t[0] == 'n'
	case uint16:
		return uint64(x), t[0] == 'q'
	case int32:
		return uint64(x), t[0] == 'i'
	case uint32:
		return uint64(x), t[0] == 'u' || t[0] == 'h'
	case int64:
		return uint64(x), t[0] == 'x'
	case uint64:
		return x, t[0] == 't'
	}
	return 0, false
}

func (e *encoder) value(t string, v any, depth int) error {
	e.align(alignment(t[0]))
	switch t[0] {
	case 'y', 'n', 'q', 'i', 'u', 'h', 'x', 't':
		bits, ok := integer(t, v)
		if !ok {
			return mismatch(t, v)
		}
		switch t[0] {
		case 'y':
			e.buf = append(e.buf, byte(bits))
		case 'n', 'q':
			e.buf = binary.LittleEndian.AppendUint16(e.buf, uint16(bits))
		case 'i', 'u', 'h':
			e.u32(uint32(bits))
		default:
			e.buf = binary.LittleEndian.AppendUint64(e.buf, bits)
		}
	case 'b':
		b, ok := v.(bool)
		if !ok {
			return mismatch(t, v)
		}
		e.u32(map[bool]uint32{false: 0, true: 1}[b])
	case 'd':
		f, ok := v.(float64)
		if !ok {
			return mismatch(t, v)
		}
		e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(f))
	case 's', 'o':
		s, ok := v.(string)
		if p, isPath := v.(ObjectPath); isPath {
			s, ok = string(p), t[0] == 'o'
		}
		if !ok {
			return mismatch(t, v)
		}
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("%w: string %q is not valid UTF-8 without NUL", ErrFormat, s)
		}
		e.u32(uint32(len(s)))
		e.buf = append(append(e.buf, s...), 0)
	case 'g':
		s, ok := v.(string)
		if g, isSig := v.(Signature); isSig {
			s, ok = string(g), true
		}
		if !ok {
			return mismatch(t, v)
		}
		return e.signature(s)
	case 'v':
		vr, ok := v.(Variant)
		if !ok {
			return mismatch(t, v)
		}
		if err := checkSignature(string(vr.Sig)); err != nil {
			return err
		}
		if vt, rest, err := splitType(string(vr.Sig)); err != nil || rest != "" {
			return fmt.Errorf("%w: variant signature %q is not one type", ErrFormat, vr.Sig)
		} else if depth >= maxDepth {
			return fmt.Errorf("%w: variants nest deeper than %d", ErrFormat, maxDepth)
		} else {
			if err := e.signature(vt); err != nil {
				return err
			}
			return e.value(vt, vr.Value, depth+1)
		}
	case 'a':
		return e.array(t, v, depth)
	case '(':
		fields, ok := v.([]any)
		if !ok {
			return mismatch(t, v)
		}
		return e.fields(t, fields, depth)
	case '{':
		de, ok := v.(DictEntry)
		if !ok {
			return mismatch(t, v)
		}
		return e.fields(t, []any{de.Key, de.Value}, depth)
	}
	return nil
}

func (e *encoder) signature(s string) error {
	if len(s) > maxSignature {
		return fmt.Errorf("%w: signature of %d bytes", ErrFormat, len(s))
	}
	e.buf = append(append(append(e.buf, byte(len(s))), s...), 0)
	return nil
}

// fields marshals the members of a struct or dictionary entry t.
func (e *encoder) fields(t string, fields []any, depth int) error {
	inner := t[1 : len(t)-1]
	for i := 0; inner != ""; i++ {
		ft, rest, _ := splitType(inner)
		if i >= len(fields) {
			return fmt.Errorf("%w: %d fields for %q", ErrFormat, len(fields), t)
		}
		if err := e.value(ft, fields[i], depth+1); err != nil {
			return err
		}
		inner = rest
		if inner == "" && i+1 != len(fields) {
			return fmt.Errorf("%w: %d fields for %q", ErrFormat, len(fields), t)
		}
	}
	return nil
}

// elements turns the Go forms an array may take into its elements.
func elements(t string, v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case []string:
		if t != "as" {
			return nil, false
		}
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, true
	case []byte:
		if t != "ay" {
			return nil, false
		}
		out := make([]any, len(x))
		for i, b := range x {
			out[i] = b
		}
		return out, true
	case []DictEntry:
		out := make([]any, len(x))
		for i, d := range x {
			out[i] = d
		}
		return out, strings.HasPrefix(t, "a{")
	case map[string]Variant:
		if t != "a{sv}" {
			return nil, false
		}
		out := make([]any, 0, len(x))
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range x {
				if !yield(k) {
					return
				}
			}
		}) {
			out = append(out, DictEntry{k, x[k]})
		}
		return out, true
	}
	return nil, false
}

func (e *encoder) array(t string, v any, depth int) error {
	elems, ok := elements(t, v)
	if !ok {
		return mismatch(t, v)
	}
	lenAt := len(e.buf)
	e.u32(0)
	e.align(alignment(t[1]))
	start := len(e.buf)
	for _, el := range elems {
		if err := e.value(t[1:], el, depth+1); err != nil {
			return err
		}
	}
	n := len(e.buf) - start
	if n > maxArray {
		return fmt.Errorf("%w: array of %d bytes (at most %d)", ErrFormat, n, maxArray)
	}
	binary.LittleEndian.PutUint32(e.buf[lenAt:], uint32(n))
	return nil
}

// decoder reads values; offsets count from the start of the message.
type decoder struct {
	buf   []byte
	off   int
	order binary.ByteOrder
}

func (d *decoder) short(what string) error {
	return fmt.Errorf("%w: %s at offset %d runs past the end (%d bytes)", ErrFormat, what, d.off, len(d.buf))
}

func (d *decoder) align(n int) error {
	for d.off%n != 0 {
		if d.off >= len(d.buf) {
			return d.short("padding")
		}
		if d.buf[d.off] != 0 {
			return fmt.Errorf("%w: non-zero padding at offset %d", ErrFormat, d.off)
		}
		d.off++
	}
	return nil
}

func (d *decoder) take(n int, what string) ([]byte, error) {
	if n < 0 || len(d.buf)-d.off < n {
		return nil, d.short(what)
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b, nil
}

func (d *decoder) u32(what string) (uint32, error) {
	b, err := d.take(4, what)
	if err != nil {
		return 0, err
	}
	return d.order.Uint32(b), nil
}

// values decodes one value per complete type of sig.
func (d *decoder) values(sig string) ([]any, error) {
	if err := checkSignature(sig); err != nil {
		return nil, err
	}
	var out []any
	for sig != "" {
		t, rest, _ := splitType(sig)
		v, err := d.value(t, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		sig = rest
	}
	return out, nil
}

func (d *decoder) value(t string, depth int) (any, error) {
	if err := d.align(alignment(t[0])); err != nil {
		return nil, err
	}
	switch t[0] {
	case 'y':
		b, err := d.take(1, "byte")
		if err != nil {
			return nil, err
		}
		return b[0], nil
	case 'n', 'q':
		b, err := d.take(2, "16-bit integer")
		if err != nil {
			return nil, err
		}
		if t[0] == 'n' {
			return int16(d.order.Uint16(b)), nil
		}
		return d.order.Uint16(b), nil
	case 'b', 'i', 'u', 'h':
		u, err := d.u32("32-bit value")
		if err != nil {
			return nil, err
		}
		switch t[0] {
		case 'b':
			if u > 1 {
				return nil, fmt.Errorf("%w: boolean %d", ErrFormat, u)
			}
			return u == 1, nil
		case 'i':
			return int32(u), nil
		}
		return u, nil
	case 'x', 't', 'd':
		b, err := d.take(8, "64-bit value")
		if err != nil {
			return nil, err
		}
		u := d.order.Uint64(b)
		switch t[0] {
		case 'x':
			return int64(u), nil
		case 'd':
			return math.Float64frombits(u), nil
		}
		return u, nil
	case 's', 'o':
		n, err := d.u32("string length")
		if err != nil {
			return nil, err
		}
		s, err := d.str(int64(n))
		if t[0] == 'o' {
			return ObjectPath(s), err
		}
		return s, err
	case 'g':
		s, err := d.signature()
		return Signature(s), err
	case 'v':
		s, err := d.signature()
		if err != nil {
			return nil, err
		}
		vt, rest, err := splitType(s)
		if err != nil || rest != "" {
			return nil, fmt.Errorf("%w: variant signature %q is not one type", ErrFormat, s)
		}
		if err := checkSignature(s); err != nil {
			return nil, err
		}
		if depth >= maxDepth {
			return nil, fmt.Errorf("%w: variants nest deeper than %d", ErrFormat, maxDepth)
		}
		v, err := d.value(vt, depth+1)
		return Variant{Signature(vt), v}, err
	case 'a':
		return d.array(t, depth)
	case '(':
		return d.fields(t, depth)
	case '{':
		f, err := d.fields(t, depth)
		if err != nil {
			return nil, err
		}
		return DictEntry{f[0], f[1]}, nil
	}
	return nil, fmt.Errorf("%w: unknown type %q", ErrFormat, t)
}

func (d *decoder) str(n int64) (string, error) {
	if n > int64(len(d.buf)) {
		return "", d.short("string")
	}
	b, err := d.take(int(n)+1, "string")
	if err != nil {
		return "", err
	}
	s := b[:n]
	if b[n] != 0 || !utf8.Valid(s) || slices.Contains(s, 0) {
		return "", fmt.Errorf("%w: string at offset %d is not UTF-8 ended by NUL", ErrFormat, d.off-len(b))
	}
	return string(s), nil
}

func (d *decoder) signature() (string, error) {
	b, err := d.take(1, "signature length")
	if err != nil {
		return "", err
	}
	return d.str(int64(b[0]))
}

func (d *decoder) fields(t string, depth int) ([]any, error) {
	var out []any
	for inner := t[1 : len(t)-1]; inner != ""; {
		ft, rest, _ := splitType(inner)
		v, err := d.value(ft, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		inner = rest
	}
	return out, nil
}

func (d *decoder) array(t string, depth int) (any, error) {
	n, err := d.u32("array length")
	if err != nil {
		return nil, err
	}
	if n > maxArray {
		return nil, fmt.Errorf("%w: array of %d bytes (at most %d)", ErrFormat, n, maxArray)
	}
	if err := d.align(alignment(t[1])); err != nil {
		return nil, err
	}
	end := d.off + int(n)
	if end > len(d.buf) {
		return nil, d.short("array")
	}
	dict := t[1] == '{'
	var entries []DictEntry
	var elems []any
	for d.off < end {
		v, err := d.value(t[1:], depth+1)
		if err != nil {
			return nil, err
		}
		if dict {
			entries = append(entries, v.(DictEntry))
		} else {
			elems = append(elems, v)
		}
	}
	if d.off != end {
		return nil, fmt.Errorf("%w: array element crosses the array's end at offset %d", ErrFormat, end)
	}
	if dict {
		return entries, nil
	}
	return elems, nil
}
