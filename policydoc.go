// policydoc.go is the IAM policy document model: PolicyDocument, Statement,
// Principal and StringList, their JSON forms, and ParsePolicy with its
// validation.

package sqshook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	awsarn "github.com/aws/aws-sdk-go-v2/aws/arn"
)

// PolicyDocument is an IAM policy document: a queue (resource-based) policy
// or an identity-based permission policy. It marshals with encoding/json to
// the JSON AWS expects; use MarshalIndent for printing and ParsePolicy to read
// one back with validation.
//
// The zero PolicyDocument has no statements and is not valid (Validate
// reports it). A PolicyDocument is a plain value; it is safe for concurrent
// reads, but callers that share one must not modify it meanwhile.
type PolicyDocument struct {
	Version   string      `json:"Version"` // PolicyVersion in documents built here
	ID        string      `json:"Id,omitempty"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a PolicyDocument.
//
// Exactly one of Action and NotAction and exactly one of Resource and
// NotResource must be set, except that a statement with a Principal or
// NotPrincipal may have no Resource (a role trust policy has none);
// Principal and NotPrincipal are for resource-based policies and at most one
// may be set. Condition maps a condition operator (such as "StringEquals")
// to condition keys (such as "aws:SourceAccount") and their values; Allows
// leaves it undecided, AllowsRequest evaluates the string and ARN operators.
// Action, Resource and their Not forms are omitted from the JSON when empty.
//
// The zero Statement is not valid: it has no Effect. Like PolicyDocument, a
// Statement is plain data, safe for concurrent reads.
type Statement struct {
	Sid          string                           `json:"Sid,omitempty"`
	Effect       string                           `json:"Effect"` // "Allow" or "Deny"
	Principal    *Principal                       `json:"Principal,omitempty"`
	NotPrincipal *Principal                       `json:"NotPrincipal,omitempty"`
	Action       StringList                       `json:"Action,omitempty"`
	NotAction    StringList                       `json:"NotAction,omitempty"`
	Resource     StringList                       `json:"Resource,omitempty"`
	NotResource  StringList                       `json:"NotResource,omitempty"`
	Condition    map[string]map[string]StringList `json:"Condition,omitempty"`
}

// Principal is the Principal (or NotPrincipal) element of a statement.
//
// All set means every principal and marshals as the JSON string "*"; the
// other fields are then ignored. Otherwise Principal marshals as an object
// with one key for each non-empty field, such as {"AWS": "arn:aws:iam::123456789012:root"}
// or {"AWS": [...], "Service": "sns.amazonaws.com"}. Unmarshalling accepts
// "*" and objects whose keys are "AWS", "Service", "Federated" and
// "CanonicalUser", each a string or an array of strings.
//
// The zero Principal names nobody and marshals as {}; Validate rejects it. A
// Principal is plain data, safe for concurrent reads.
type Principal struct {
	All           bool       // "*": every principal, including anonymous ones
	AWS           StringList // account IDs, IAM ARNs or "*"
	Service       StringList // service principals such as "sns.amazonaws.com"
	Federated     StringList // identity providers
	CanonicalUser StringList // Amazon S3 canonical user IDs
}

// StringList is a policy value that JSON writes either as one string or as an
// array of strings. It unmarshals from a string (one element) or an array of
// strings; JSON null leaves it unchanged. It marshals a single element as a
// plain string and any other number of elements as an array. The zero
// (nil) StringList is empty and marshals as []; statements omit empty lists.
type StringList []string

// MarshalJSON implements json.Marshaler: one element becomes a string, any
// other number an array ([] when empty).
func (l StringList) MarshalJSON() ([]byte, error) {
	if len(l) == 1 {
		return policyMarshal(l[0])
	}
	if l == nil {
		return []byte("[]"), nil
	}
	return policyMarshal([]string(l))
}

// UnmarshalJSON implements json.Unmarshaler. It accepts a JSON string or an
// array of strings; null leaves l unchanged. Other values are an error that
// wraps ErrInvalidPolicy.
func (l *StringList) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case string(data) == "null":
		return nil
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*l = StringList{s}
		return nil
	case len(data) > 0 && data[0] == '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(data, &raws); err != nil {
			return err
		}
		out := make(StringList, 0, len(raws))
		for i, r := range raws {
			if len(r) == 0 || r[0] != '"' {
				return policyErrorf("element %d is %s, want a string", i, policyJSONKind(r))
			}
			var s string
			if err := json.Unmarshal(r, &s); err != nil {
				return err
			}
			out = append(out, s)
		}
		*l = out
		return nil
	}
	return policyErrorf("got %s, want a string or an array of strings", policyJSONKind(data))
}

type policyPrincipalJSON struct {
	AWS           StringList `json:"AWS,omitempty"`
	Service       StringList `json:"Service,omitempty"`
	Federated     StringList `json:"Federated,omitempty"`
	CanonicalUser StringList `json:"CanonicalUser,omitempty"`
}

// MarshalJSON implements json.Marshaler: "*" when p.All is set, otherwise an
// object with one key per non-empty field.
func (p Principal) MarshalJSON() ([]byte, error) {
	if p.All {
		return []byte(`"*"`), nil
	}
	return policyMarshal(policyPrincipalJSON{AWS: p.AWS, Service: p.Service, Federated: p.Federated, CanonicalUser: p.CanonicalUser})
}

// UnmarshalJSON implements json.Unmarshaler. It accepts "*" and objects with
// the keys "AWS", "Service", "Federated" and "CanonicalUser" (case-sensitive,
// each at most once, each a non-empty string or array of strings); null
// leaves p unchanged. Anything else is an error that wraps ErrInvalidPolicy.
func (p *Principal) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		return nil
	}
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		if s != "*" {
			return policyErrorf("principal string %s: only \"*\" may be written as a plain string; use {\"AWS\": ...}", policyQuote(s))
		}
		*p = Principal{All: true}
		return nil
	}
	fields, err := policyObject(data, "principal")
	if err != nil {
		return err
	}
	if len(fields) == 0 {
		return policyErrorf("principal object is empty")
	}
	var out Principal
	for _, f := range fields {
		var dst *StringList
		switch f.key {
		case "AWS":
			dst = &out.AWS
		case "Service":
			dst = &out.Service
		case "Federated":
			dst = &out.Federated
		case "CanonicalUser":
			dst = &out.CanonicalUser
		default:
			return policyErrorf("unknown principal type %s (want AWS, Service, Federated or CanonicalUser)", policyQuote(f.key))
		}
		if err := policyDecodeList(f.raw, dst); err != nil {
			return policyErrorf("principal %s: %v", f.key, policyUnwrap(err))
		}
		if len(*dst) == 0 {
			return policyErrorf("principal %s is empty", f.key)
		}
	}
	*p = out
	return nil
}

// UnmarshalJSON implements json.Unmarshaler with the strictness of the AWS
// policy grammar: element names are case-sensitive, unknown or repeated
// elements are errors, and Statement may be one statement object or an array
// of them; null leaves p unchanged. It does not check values; ParsePolicy does
// (see Validate). Errors wrap ErrInvalidPolicy.
func (p *PolicyDocument) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	fields, err := policyObject(data, "policy")
	if err != nil {
		return err
	}
	var out PolicyDocument
	for _, f := range fields {
		switch f.key {
		case "Version":
			if out.Version, err = policyDecodeString(f.raw, "Version"); err != nil {
				return err
			}
		case "Id":
			if out.ID, err = policyDecodeString(f.raw, "Id"); err != nil {
				return err
			}
		case "Statement":
			if out.Statement, err = policyDecodeStatements(f.raw); err != nil {
				return err
			}
		default:
			return policyErrorf("unknown policy element %s (want Version, Id and Statement)", policyQuote(f.key))
		}
	}
	*p = out
	return nil
}

func policyDecodeStatements(raw json.RawMessage) ([]Statement, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) > 0 && raw[0] == '{':
		var st Statement
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, policyErrorf("Statement: %v", policyUnwrap(err))
		}
		return []Statement{st}, nil
	case len(raw) > 0 && raw[0] == '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(raw, &raws); err != nil {
			return nil, policyErrorf("Statement: %v", err)
		}
		out := make([]Statement, len(raws))
		for i, r := range raws {
			if r = bytes.TrimSpace(r); len(r) == 0 || r[0] != '{' {
				return nil, policyErrorf("Statement[%d] is %s, want an object", i, policyJSONKind(r))
			}
			if err := json.Unmarshal(r, &out[i]); err != nil {
				return nil, policyErrorf("Statement[%d]: %v", i, policyUnwrap(err))
			}
		}
		return out, nil
	}
	return nil, policyErrorf("Statement is %s, want an object or an array of objects", policyJSONKind(raw))
}

// UnmarshalJSON implements json.Unmarshaler with the strictness of the AWS
// policy grammar: element names are case-sensitive and unknown or repeated
// elements are errors; null is not accepted for any element (a null statement
// leaves s unchanged). Condition values
// may be strings, numbers or booleans (AWS compares them as strings) and are
// stored as strings. It does not check values; ParsePolicy does (see
// Validate). Errors wrap ErrInvalidPolicy.
func (s *Statement) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	fields, err := policyObject(data, "statement")
	if err != nil {
		return err
	}
	var out Statement
	for _, f := range fields {
		if string(bytes.TrimSpace(f.raw)) == "null" {
			return policyErrorf("%s is null", f.key)
		}
		switch f.key {
		case "Sid":
			out.Sid, err = policyDecodeString(f.raw, "Sid")
		case "Effect":
			out.Effect, err = policyDecodeString(f.raw, "Effect")
		case "Principal", "NotPrincipal":
			p := new(Principal)
			if err = json.Unmarshal(f.raw, p); err == nil {
				if f.key == "Principal" {
					out.Principal = p
				} else {
					out.NotPrincipal = p
				}
			} else {
				err = policyErrorf("%s: %v", f.key, policyUnwrap(err))
			}
		case "Action":
			err = policyDecodeNamedList(f, &out.Action)
		case "NotAction":
			err = policyDecodeNamedList(f, &out.NotAction)
		case "Resource":
			err = policyDecodeNamedList(f, &out.Resource)
		case "NotResource":
			err = policyDecodeNamedList(f, &out.NotResource)
		case "Condition":
			out.Condition, err = policyDecodeCondition(f.raw)
		default:
			err = policyErrorf("unknown statement element %s", policyQuote(f.key))
		}
		if err != nil {
			return err
		}
	}
	*s = out
	return nil
}

func policyDecodeNamedList(f policyField, dst *StringList) error {
	if err := policyDecodeList(f.raw, dst); err != nil {
		return policyErrorf("%s: %v", f.key, policyUnwrap(err))
	}
	return nil
}

func policyDecodeList(raw json.RawMessage, dst *StringList) error {
	if string(bytes.TrimSpace(raw)) == "null" {
		return policyErrorf("is null")
	}
	var l StringList
	if err := json.Unmarshal(raw, &l); err != nil {
		return err
	}
	*dst = l
	return nil
}

func policyDecodeCondition(raw json.RawMessage) (map[string]map[string]StringList, error) {
	ops, err := policyObject(raw, "Condition")
	if err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, nil
	}
	out := make(map[string]map[string]StringList, len(ops))
	for _, op := range ops {
		keys, err := policyObject(op.raw, "Condition "+policyQuote(op.key))
		if err != nil {
			return nil, err
		}
		m := make(map[string]StringList, len(keys))
		for _, k := range keys {
			vals, err := policyConditionValues(k.raw)
			if err != nil {
				return nil, policyErrorf("Condition %s %s: %v", policyQuote(op.key), policyQuote(k.key), err)
			}
			m[k.key] = vals
		}
		out[op.key] = m
	}
	return out, nil
}

// policyConditionValues reads a condition value: a string, number or boolean,
// or an array of them.
func policyConditionValues(raw json.RawMessage) (StringList, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var raws []json.RawMessage
		if err := json.Unmarshal(raw, &raws); err != nil {
			return nil, err
		}
		out := make(StringList, 0, len(raws))
		for _, r := range raws {
			v, err := policyConditionScalar(r)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	v, err := policyConditionScalar(raw)
	if err != nil {
		return nil, err
	}
	return StringList{v}, nil
}

func policyConditionScalar(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return "", errors.New("empty value")
	case raw[0] == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case string(raw) == "true" || string(raw) == "false":
		return string(raw), nil
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		return string(raw), nil // already validated JSON number syntax
	}
	return "", fmt.Errorf("value is %s, want a string, number or boolean", policyJSONKind(raw))
}

func policyDecodeString(raw json.RawMessage, name string) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", policyErrorf("%s is %s, want a string", name, policyJSONKind(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", policyErrorf("%s: %v", name, err)
	}
	return s, nil
}

// policyField is one member of a JSON object, in document order.
type policyField struct {
	key string
	raw json.RawMessage
}

// policyObject splits a JSON object into its members, rejecting repeated
// keys and anything that is not exactly one object.
func policyObject(data []byte, what string) ([]policyField, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, policyErrorf("%s: %v", what, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, policyErrorf("%s is %s, want an object", what, policyJSONKind(bytes.TrimSpace(data)))
	}
	var fields []policyField
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, policyErrorf("%s: %v", what, err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return nil, policyErrorf("%s has %s more than once", what, policyQuote(key))
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, policyErrorf("%s: %v", what, err)
		}
		fields = append(fields, policyField{key, raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, policyErrorf("%s: %v", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, policyErrorf("%s: unexpected data after the object", what)
	}
	return fields, nil
}

func policyJSONKind(raw []byte) string {
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// policyMarshal is json.Marshal without HTML escaping, so that ARNs and
// conditions print as written.
func policyMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// MarshalIndent returns the document as JSON indented by two spaces, without
// a trailing newline and without HTML escaping, ready to print or paste into
// the AWS console. It does not validate the document. It is safe for
// concurrent use as long as p is not being modified.
func (p PolicyDocument) MarshalIndent() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ParsePolicy reads a JSON policy document and validates it (see Validate).
// Element names are case-sensitive; unknown and repeated elements, trailing
// data and documents over 64 KiB (far above any AWS policy size limit) are
// rejected. Statement may be one object or an array. Every error wraps
// ErrInvalidPolicy. ParsePolicy never panics and is safe for concurrent use.
func ParsePolicy(doc []byte) (PolicyDocument, error) {
	if len(doc) > policyMaxBytes {
		return PolicyDocument{}, policyErrorf("document is %d bytes, more than the %d this parser reads", len(doc), policyMaxBytes)
	}
	if len(bytes.TrimSpace(doc)) == 0 {
		return PolicyDocument{}, policyErrorf("document is empty")
	}
	var p PolicyDocument
	if err := json.Unmarshal(doc, &p); err != nil {
		if errors.Is(err, ErrInvalidPolicy) {
			return PolicyDocument{}, err
		}
		return PolicyDocument{}, fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
	}
	if err := p.Validate(); err != nil {
		return PolicyDocument{}, err
	}
	return p, nil
}

// Validate checks p against the AWS policy grammar and returns an error
// wrapping ErrInvalidPolicy for the first problem, naming the statement:
//
//   - Version is "2012-10-17", "2008-10-17" or empty (AWS's default);
//   - there is at least one statement;
//   - Effect is exactly "Allow" or "Deny";
//   - exactly one of Action and NotAction is given and not empty, each entry
//     "*" or "<service>:<action pattern>";
//   - exactly one of Resource and NotResource is given and not empty, each
//     entry "*" or an ARN pattern with six colon-separated fields, except
//     that a statement with Principal or NotPrincipal may have neither, as
//     in a role trust policy (see TrustPolicy), whose resource is the role
//     it belongs to;
//   - Principal and NotPrincipal are not both given, and each AWS principal
//     is "*", a 12-digit account ID, an IAM or STS ARN or an IAM unique ID,
//     with no partial wildcards (AWS allows "*" only on its own);
//   - condition operators and keys are not empty.
//
// Validate is safe for concurrent use as long as p is not being modified.
func (p PolicyDocument) Validate() error {
	switch p.Version {
	case "", PolicyVersion, "2008-10-17":
	default:
		return policyErrorf("Version %s is not %q or %q", policyQuote(p.Version), PolicyVersion, "2008-10-17")
	}
	if len(p.Statement) == 0 {
		return policyErrorf("policy has no statements")
	}
	for i := range p.Statement {
		if problem := p.Statement[i].problem(); problem != "" {
			name := fmt.Sprintf("Statement[%d]", i)
			if sid := p.Statement[i].Sid; sid != "" {
				name += " (Sid " + policyQuote(sid) + ")"
			}
			return policyErrorf("%s: %s", name, problem)
		}
	}
	return nil
}

func (s *Statement) problem() string {
	if s.Effect != "Allow" && s.Effect != "Deny" {
		return fmt.Sprintf("Effect %s is not \"Allow\" or \"Deny\"", policyQuote(s.Effect))
	}
	if s.Principal != nil && s.NotPrincipal != nil {
		return "has both Principal and NotPrincipal"
	}
	for _, pp := range []struct {
		name string
		p    *Principal
	}{{"Principal", s.Principal}, {"NotPrincipal", s.NotPrincipal}} {
		if pp.p == nil {
			continue
		}
		if problem := pp.p.problem(); problem != "" {
			return pp.name + ": " + problem
		}
	}
	if problem := policyListProblem("Action", s.Action, "NotAction", s.NotAction, policyActionPatternProblem); problem != "" {
		return problem
	}
	trustStyle := len(s.Resource) == 0 && len(s.NotResource) == 0 && (s.Principal != nil || s.NotPrincipal != nil)
	if !trustStyle {
		if problem := policyListProblem("Resource", s.Resource, "NotResource", s.NotResource, policyResourcePatternProblem); problem != "" {
			return problem
		}
	}
	for _, op := range slices.Sorted(maps.Keys(s.Condition)) {
		if op == "" {
			return "Condition has an empty operator name"
		}
		if _, ok := s.Condition[op][""]; ok {
			return fmt.Sprintf("Condition %s has an empty key name", policyQuote(op))
		}
	}
	return ""
}

func policyListProblem(name string, l StringList, notName string, notL StringList, check func(string) string) string {
	switch {
	case len(l) > 0 && len(notL) > 0:
		return fmt.Sprintf("has both %s and %s", name, notName)
	case len(l) == 0 && len(notL) == 0:
		return fmt.Sprintf("has no %s (or %s)", name, notName)
	case len(notL) > 0:
		name, l = notName, notL
	}
	for _, v := range l {
		if problem := check(v); problem != "" {
			return fmt.Sprintf("%s %s: %s", name, policyQuote(v), problem)
		}
	}
	return ""
}

func (p *Principal) problem() string {
	if p.All {
		return ""
	}
	if len(p.AWS)+len(p.Service)+len(p.Federated)+len(p.CanonicalUser) == 0 {
		return "names no principal"
	}
	for _, v := range p.AWS {
		if problem := policyAWSPrincipalProblem(v); problem != "" {
			return fmt.Sprintf("AWS principal %s: %s", policyQuote(v), problem)
		}
	}
	for _, l := range []struct {
		name string
		vals StringList
	}{{"Service", p.Service}, {"Federated", p.Federated}, {"CanonicalUser", p.CanonicalUser}} {
		for _, v := range l.vals {
			if v == "" || policyHasControlOrSpace(v) {
				return fmt.Sprintf("%s principal %s is empty or has white space or control characters", l.name, policyQuote(v))
			}
		}
	}
	return ""
}

// policyAWSPrincipalProblem checks an "AWS" principal value as it may appear
// in a policy.
func policyAWSPrincipalProblem(v string) string {
	switch {
	case v == "*" || policyIsAccountID(v):
		return ""
	case strings.ContainsAny(v, "*?"):
		return "wildcards are allowed in a principal only as the whole value \"*\""
	case policyHasControlOrSpace(v):
		return "has white space or control characters"
	case strings.HasPrefix(v, "arn:"):
		a, err := awsarn.Parse(v)
		if err != nil || a.Partition == "" || (a.Service != "iam" && a.Service != "sts") || a.Resource == "" {
			return "is not an IAM or STS ARN (arn:<partition>:iam::<account-id>:<resource>)"
		}
		return ""
	case policyIsUniqueID(v):
		return ""
	}
	return "is not \"*\", a 12-digit account ID or an IAM ARN"
}

// policyIsUniqueID reports whether v looks like an IAM unique ID (such as
// AIDA… or AROA…), which AWS shows in place of a deleted principal.
func policyIsUniqueID(v string) bool {
	if len(v) < 16 || len(v) > 128 || v[0] != 'A' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func policyActionPatternProblem(a string) string {
	if a == "*" {
		return ""
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" || name == "" {
		return "is not \"*\" or <service>:<action>"
	}
	for i := 0; i < len(svc); i++ {
		if c := svc[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return "service prefix may hold only letters, digits and '-'"
		}
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '*' || c == '?' || c == '_' || c == '-') {
			return "action name may hold only letters, digits and the wildcards '*' and '?'"
		}
	}
	return ""
}

func policyResourcePatternProblem(r string) string {
	if r == "*" {
		return ""
	}
	if strings.ContainsFunc(r, func(c rune) bool { return c < 0x20 || c == 0x7f }) || !utf8.ValidString(r) {
		return "has control characters or invalid UTF-8"
	}
	if !strings.HasPrefix(r, "arn:") || strings.Count(r, ":") < 5 {
		return "is not \"*\" or an ARN (arn:<partition>:<service>:<region>:<account-id>:<resource>)"
	}
	return ""
}

func policyHasControlOrSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return true
		}
	}
	return false
}

// policyErrorf returns an error wrapping ErrInvalidPolicy.
func policyErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidPolicy, fmt.Sprintf(format, args...))
}

// policyUnwrap strips the ErrInvalidPolicy prefix from an error made by
// policyErrorf, so that nested messages do not repeat it.
func policyUnwrap(err error) string {
	return strings.TrimPrefix(err.Error(), ErrInvalidPolicy.Error()+": ")
}
