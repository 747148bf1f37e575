// jsonscan.go is the package's one JSON scanner: validJSON checks a body's
// grammar for the size guard and the body check, and topLevelString reads one
// top-level string member for GroupByChannel, both with the same
// allocation-free value, string, number and literal scanners.

package sqshook

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
)

// maxJSONDepth is the deepest nesting validJSON accepts, as encoding/json.
const maxJSONDepth = 10000

// validJSON reports whether b is one JSON value (RFC 8259) with optional
// white space around it, as json.Valid does, several times faster: string
// contents are skipped eight bytes at a time, and long runs of them 32 at
// a time with AVX2 where the CPU has it (jsonsimd_amd64.s). Like
// json.Valid it checks the grammar, not UTF-8 (the character rules do
// that).
func validJSON(b []byte) bool {
	i := jsonValue(b, skipSpace(b, 0), 0)
	return i >= 0 && skipSpace(b, i) == len(b)
}

// jsonValue returns the index just past the value at b[i], or -1.
func jsonValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; c {
	case '"':
		return jsonString(b, i)
	case '{', '[':
		if depth++; depth > maxJSONDepth {
			return -1
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == end {
			return i + 1
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return -1
				}
				if i = jsonString(b, i); i < 0 {
					return -1
				}
				if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
					return -1
				}
				i = skipSpace(b, i+1)
			}
			if i = jsonValue(b, i, depth); i < 0 {
				return -1
			}
			if i = skipSpace(b, i); i >= len(b) {
				return -1
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case end:
				return i + 1
			default:
				return -1
			}
		}
	case 't':
		return jsonLiteral(b, i, "true")
	case 'f':
		return jsonLiteral(b, i, "false")
	case 'n':
		return jsonLiteral(b, i, "null")
	}
	return jsonNumber(b, i)
}

func jsonLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// jsonNumber returns the index just past the number at b[i], or -1:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumber(b []byte, i int) int {
	digits := func(i int) (int, bool) {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j, j > i
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i, _ = digits(i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		var ok bool
		if i, ok = digits(i + 1); !ok {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		var ok bool
		if i, ok = digits(i); !ok {
			return -1
		}
	}
	return i
}

const (
	quoteBytes     = 0x2222222222222222
	backslashBytes = 0x5C5C5C5C5C5C5C5C
	oneBytes       = 0x0101010101010101
)

// jsonString returns the index just past the string whose opening quote is
// at b[i], or -1.
func jsonString(b []byte, i int) int {
	n := len(b)
	i++
	for {
		for words := 0; i <= n-8; words++ {
			if words == 2 && jsonAVX2 && n-i >= 64 {
				// A long run, as chat text makes: 32 bytes at a time.
				if i += indexJSONSpecialAVX2(b[i:]); i > n-8 {
					break
				}
			}
			w := binary.LittleEndian.Uint64(b[i : i+8])
			q, s := w^quoteBytes, w^backslashBytes
			// A byte is a quote, a backslash, or below 0x20 (each test
			// marks the top bit of such a byte, and of none before it):
			// go to the first.
			if m := ((q-oneBytes)&^q | (s-oneBytes)&^s | (w-spaceByte)&^w) & highBits; m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= n {
			return -1
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i+1 >= n {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > n {
					return -1
				}
				for _, h := range b[i+2 : i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				i += 6
			default:
				return -1
			}
		case c < 0x20:
			return -1
		default:
			i++
		}
	}
}

// topLevelString returns the string value of member key of the JSON object
// b, looking only at the object's own members (not nested ones). It reports
// false when b is not an object, key is missing or its value is not a
// string. It allocates only the returned string. It walks b with validJSON's
// scanners, so malformed JSON reports false.
func topLevelString(b []byte, key string) (string, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", false
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] == '"' {
		kend := jsonString(b, i)
		if kend < 0 {
			return "", false
		}
		match := string(b[i+1:kend-1]) == key // an escaped key never matches
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return "", false
		}
		i = skipSpace(b, i+1)
		vend := jsonValue(b, i, 1)
		if vend < 0 {
			return "", false
		}
		if match {
			if b[i] != '"' {
				return "", false
			}
			raw := b[i+1 : vend-1]
			if bytes.IndexByte(raw, '\\') < 0 {
				return string(raw), true
			}
			var s string
			if json.Unmarshal(b[i:vend], &s) != nil {
				return "", false
			}
			return s, true
		}
		if i = skipSpace(b, vend); i >= len(b) || b[i] != ',' {
			return "", false
		}
		i = skipSpace(b, i+1)
	}
	return "", false
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
