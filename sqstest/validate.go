package sqstest

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MD5OfMessageAttributes returns the digest SQS reports as
// MD5OfMessageAttributes, or "" for no attributes. The attributes are taken
// in order of name; each contributes its name, its data type and its value,
// each prefixed by its length as 4 big-endian bytes, with a transport byte
// before the value: 1 for String and Number types (the StringValue), 2 for
// Binary types (the BinaryValue).
func MD5OfMessageAttributes(attrs map[string]Attribute) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	slices.Sort(names)
	h := md5.New()
	var l [4]byte
	put := func(s string) {
		binary.BigEndian.PutUint32(l[:], uint32(len(s)))
		h.Write(l[:])
		h.Write([]byte(s))
	}
	for _, n := range names {
		a := attrs[n]
		put(n)
		put(a.DataType)
		if strings.HasPrefix(a.DataType, "Binary") {
			h.Write([]byte{2})
			put(string(a.BinaryValue))
		} else {
			h.Write([]byte{1})
			put(a.StringValue)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// legalRune reports whether SQS accepts r in a message: #x9 | #xA | #xD |
// #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
func legalRune(r rune) bool {
	switch {
	case r == 0x9 || r == 0xA || r == 0xD:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// firstIllegal returns the byte offset of the first character SQS refuses in
// s, or -1. Bytes that are not UTF-8 are refused.
func firstIllegal(s string) int {
	for i, r := range s {
		if !legalRune(r) || r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
			return i
		}
	}
	return -1
}

// validEntryID applies SQS's rule for batch entry ids: 1 to 80 characters of
// A-Z a-z 0-9 _ -.
func validEntryID(id string) bool {
	if id == "" || len(id) > 80 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validQueueName applies SQS's rule for queue names: 1 to 80 characters of
// A-Z a-z 0-9 _ -, where a FIFO queue's name ends in ".fifo" (counted).
func validQueueName(name string) bool {
	if name == "" || len(name) > 80 {
		return false
	}
	base := strings.TrimSuffix(name, ".fifo")
	return base != "" && validEntryID(base)
}

// checkFIFOID applies SQS's rule for MessageGroupId and
// MessageDeduplicationId: 1 to 128 characters of letters, digits and
// punctuation.
func checkFIFOID(field, v string) string {
	if v == "" || len(v) > 128 {
		return fmt.Sprintf("Value %s for parameter %s is invalid. Reason: %s can only include alphanumeric and punctuation characters. 1 to 128 in length.", v, field, field)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7F {
			return fmt.Sprintf("Value %s for parameter %s is invalid. Reason: %s can only include alphanumeric and punctuation characters. 1 to 128 in length.", v, field, field)
		}
	}
	return ""
}

// checkAttributes applies SQS's rules to message attributes and returns what
// is wrong, or "".
func checkAttributes(attrs map[string]Attribute) string {
	if len(attrs) > MaxMessageAttributes {
		return fmt.Sprintf("Number of message attributes [%d] exceeds the allowed maximum [%d].", len(attrs), MaxMessageAttributes)
	}
	for name, a := range attrs {
		if msg := checkAttributeName(name); msg != "" {
			return msg
		}
		base, custom, hasCustom := strings.Cut(a.DataType, ".")
		if a.DataType == "" {
			return fmt.Sprintf("The message attribute '%s' must contain non-empty message attribute type.", name)
		}
		if base != "String" && base != "Number" && base != "Binary" || hasCustom && custom == "" || len(a.DataType) > 256 {
			return fmt.Sprintf("The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
		}
		switch base {
		case "Binary":
			if len(a.BinaryValue) == 0 {
				return fmt.Sprintf("The message attribute '%s' with type 'Binary' must use field 'Binary'.", name)
			}
		default:
			if a.StringValue == "" {
				return fmt.Sprintf("The message attribute '%s' with type '%s' must use field 'String'.", name, base)
			}
			if i := firstIllegal(a.StringValue); i >= 0 {
				return fmt.Sprintf("Message (user) attribute '%s' value contains invalid characters.", name)
			}
			if base == "Number" {
				if _, err := strconv.ParseFloat(a.StringValue, 64); err != nil && !isRangeErr(err) {
					return fmt.Sprintf("Can't cast the value of message (user) attribute '%s' to a number.", name)
				}
			}
		}
	}
	return ""
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// checkAttributeName applies SQS's rule for message attribute names.
func checkAttributeName(name string) string {
	bad := func(why string) string {
		return fmt.Sprintf("Message (user) attribute name '%s' is invalid. %s", name, why)
	}
	if name == "" || len(name) > 256 {
		return bad("The name must be 1 to 256 characters long.")
	}
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") {
		return bad("The attribute name can't start with AWS-reserved prefixes: 'AWS.' or 'Amazon.'")
	}
	if name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, "..") {
		return bad("The attribute name can't start or end with a period or contain successive periods.")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return bad("The attribute name can contain only alphanumeric characters, hyphens (-), underscores (_) and periods (.).")
		}
	}
	return ""
}
