// hook.go is the event-hook configuration: Hook, its JSON form (ParseHooks),
// its validation (every problem at once) and its redaction of secrets.

package sqshook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/smithy-go"
)

// Hook types and auth types of the event-hook configuration.
const (
	// HookTypeSQS is the only hook type sqshook delivers.
	HookTypeSQS = "sqs"

	// AuthKeys authenticates with the hook's own access key and secret.
	AuthKeys = "keys"
	// AuthResource uses the server's own AWS identity (the default credential
	// chain); the customer allows it with a resource policy on the queue.
	// Every customer's policy then allows the same principal: see AuthRole
	// for the cross-tenant risk this carries.
	AuthResource = "resource"
	// AuthRole assumes an IAM role in the customer's account (the hook's
	// sqs_role_arn) with the server's own identity and an ExternalId that
	// the server assigns to the customer (WithExternalID), and sends with
	// the role's temporary credentials. The role's trust policy requires
	// that ExternalId (see TrustPolicy), so one customer cannot make the
	// server send into another customer's queue.
	AuthRole = "role"
)

// otherHookTypes are hook kinds of the same configuration format that other
// parts of a chat server deliver.
var otherHookTypes = []string{"webhook", "sns", "pending_message"}

// redactedText replaces secrets wherever a Hook is shown.
const redactedText = "[REDACTED]"

// Hook is one event hook, in the format of Stream's event_hooks: where to
// send events (an SQS queue), how to authenticate, and which event types.
//
// Every way of showing a Hook hides the secret: String, the fmt verbs (%v,
// %+v, %#v, %s, %q), slog (text and JSON handlers, a hook alone, in a slice
// or in a struct) and encoding/json (MarshalJSON) all show the Redacted
// copy. Storage is explicit: MarshalHooks writes the hooks with their
// secrets, in the JSON form ParseHooks reads. A redacted copy cannot be
// stored by mistake: its sqs_secret, "[REDACTED]", fails validation.
type Hook struct {
	// ID identifies the hook. Optional: ValidateHooks fills an empty ID with
	// one derived from the hook's settings, so an unchanged configuration
	// always gets the same IDs.
	ID string `json:"id,omitempty"`
	// Enabled must be true for the hook to receive events.
	Enabled bool `json:"enabled"`
	// HookType must be "sqs".
	HookType string `json:"hook_type"`
	// SQSQueueURL is the queue's URL, as SQS reports it.
	SQSQueueURL string `json:"sqs_queue_url"`
	// SQSRegion is the queue's region; it must agree with the URL.
	SQSRegion string `json:"sqs_region"`
	// SQSAuthType is "keys", "resource" or "role".
	SQSAuthType string `json:"sqs_auth_type"`
	// SQSKey is the access key id, required with "keys" auth.
	SQSKey string `json:"sqs_key,omitempty"`
	// SQSSecret is the secret access key, required with "keys" auth.
	SQSSecret string `json:"sqs_secret,omitempty"`
	// SQSRoleARN is the ARN of the IAM role to assume, required with "role"
	// auth: arn:<partition>:iam::<account>:role/[path/]name, in the queue's
	// partition. The ExternalId is not part of the hook: the server assigns
	// it (WithExternalID).
	SQSRoleARN string `json:"sqs_role_arn,omitempty"`
	// EventTypes selects event types (see Filter); empty means all events,
	// present and future.
	EventTypes []string `json:"event_types"`

	// BodyEncoding is how this hook's message bodies are written; empty
	// means the dispatcher's (WithBodyEncoding). It is the server's choice,
	// never read from or written to hook JSON: package streamapi sets it
	// from the app's settings (Stream's base64, gzip with
	// enable_hook_payload_compression, or raw).
	BodyEncoding Encoding `json:"-"`
}

// Clone returns a deep copy of h.
func (h Hook) Clone() Hook {
	h.EventTypes = slices.Clone(h.EventTypes)
	return h
}

// Redacted returns a copy of h that is safe to show: the secret is replaced
// by "[REDACTED]" and the access key id is cut to its last four characters.
//
// Wherever else the secret or the whole key id was typed (the queue URL's
// user information, path, query or fragment, the region, an event type, the
// id, the role ARN) it is scrubbed as scrub does, and the queue URL's user
// information is replaced by "REDACTED".
func (h Hook) Redacted() Hook {
	r := h.Clone()
	for _, f := range []*string{&r.ID, &r.HookType, &r.SQSQueueURL, &r.SQSRegion, &r.SQSAuthType, &r.SQSRoleARN} {
		*f = h.scrub(*f)
	}
	for i, t := range r.EventTypes {
		r.EventTypes[i] = h.scrub(t)
	}
	if r.SQSSecret != "" {
		r.SQSSecret = redactedText
	}
	r.SQSKey = maskKey(r.SQSKey)
	r.SQSQueueURL = policyRedactUserinfo(r.SQSQueueURL)
	return r
}

// scrub removes h's secret from s and shortens its access key id as
// Redacted does: messages from AWS and the network are not ours, and some
// echo the credentials they were given.
//
// The credentials are found in their literal form and in the forms that
// messages echo them in: URL-encoded ("%2F", "%2B", in either case, as
// url.QueryEscape and url.PathEscape write them) and JSON-escaped ("\/",
// "\u002b"), in any mix.
func (h *Hook) scrub(s string) string {
	if h.SQSSecret != "" {
		s = replaceEncoded(s, h.SQSSecret, redactedText)
	}
	if k := h.SQSKey; k != "" && k != maskKey(k) {
		s = replaceEncoded(s, k, maskKey(k))
	}
	return s
}

// replaceEncoded replaces every occurrence of secret in s, where each of
// its bytes may be written as itself, as a %XX escape, or as a JSON escape
// (\/ for '/', \u00XX), with repl.
func replaceEncoded(s, secret, repl string) string {
	if !strings.ContainsAny(s, "%\\") {
		return strings.ReplaceAll(s, secret, repl)
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if end := matchEncoded(s, i, secret); end > i {
			b.WriteString(s[last:i])
			b.WriteString(repl)
			i, last = end, end
			continue
		}
		i++
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// matchEncoded returns where a match of secret (in any of the forms
// replaceEncoded knows) that starts at s[i] ends, or -1.
func matchEncoded(s string, i int, secret string) int {
	j := i
	for k := 0; k < len(secret); k++ {
		c := secret[k]
		switch {
		case j < len(s) && s[j] == c:
			j++
		case j+2 < len(s) && s[j] == '%' && unhex2(s[j+1], s[j+2]) == int(c):
			j += 3
		case j+1 < len(s) && s[j] == '\\' && c == '/' && s[j+1] == '/':
			j += 2
		case j+5 < len(s) && s[j] == '\\' && s[j+1] == 'u' && s[j+2] == '0' && s[j+3] == '0' && unhex2(s[j+4], s[j+5]) == int(c):
			j += 6
		default:
			return -1
		}
	}
	return j
}

// unhex2 returns the byte that two hex digits spell, or -1.
func unhex2(a, b byte) int {
	h := func(c byte) int {
		switch {
		case c >= '0' && c <= '9':
			return int(c - '0')
		case c >= 'a' && c <= 'f':
			return int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			return int(c-'A') + 10
		}
		return -1
	}
	x, y := h(a), h(b)
	if x < 0 || y < 0 {
		return -1
	}
	return x<<4 | y
}

// scrubError returns err, or when its text shows h's credentials an error
// with the same AWS error code and fault whose message is scrubbed (the
// original, with its wrapped causes, is dropped).
func (h *Hook) scrubError(err error) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	if h.scrub(text) == text {
		return err
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return &smithy.GenericAPIError{Code: apiErr.ErrorCode(), Message: h.scrub(apiErr.ErrorMessage()), Fault: apiErr.ErrorFault()}
	}
	return errors.New(h.scrub(text))
}

func maskKey(k string) string {
	if k == "" || strings.HasPrefix(k, "…") && len(k) == len("…")+4 {
		return k // empty, or already shortened: Redacted of a Redacted copy changes nothing
	}
	if len(k) <= 8 {
		return redactedText
	}
	return "…" + k[len(k)-4:]
}

// plainHook has Hook's fields and none of its methods, for printing and
// storing.
type plainHook Hook

// MarshalJSON implements json.Marshaler with the Redacted copy: a hook
// marshalled for a log, an API answer or slog's JSON handler shows no
// secret. Use MarshalHooks to store hooks.
func (h Hook) MarshalJSON() ([]byte, error) {
	return json.Marshal(plainHook(h.Redacted()))
}

// MarshalHooks returns hooks as a JSON array with every field, secrets
// included: the storage form, which ParseHooks reads back. It is the only
// function of sqshook whose output holds secrets; keep it out of logs.
func MarshalHooks(hooks []Hook) ([]byte, error) {
	plain := make([]plainHook, len(hooks))
	for i, h := range hooks {
		plain[i] = plainHook(h)
	}
	return json.Marshal(plain)
}

// String shows the hook without secrets.
func (h Hook) String() string {
	r := h.Redacted()
	return fmt.Sprintf("%+v", plainHook(r))
}

// GoString shows the hook in Go syntax, without secrets.
func (h Hook) GoString() string {
	r := h.Redacted()
	return strings.Replace(fmt.Sprintf("%#v", plainHook(r)), "sqshook.plainHook", "sqshook.Hook", 1)
}

// Format implements fmt.Formatter so that every verb hides the secret.
func (h Hook) Format(f fmt.State, verb rune) {
	r := plainHook(h.Redacted())
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, h.GoString())
	case verb == 'v' && f.Flag('+'):
		fmt.Fprintf(f, "%+v", r)
	case verb == 'q':
		fmt.Fprintf(f, "%q", h.String())
	default:
		fmt.Fprintf(f, "%v", r)
	}
}

// LogValue implements slog.LogValuer: hooks are logged without secrets.
func (h Hook) LogValue() slog.Value {
	r := h.Redacted()
	attrs := []slog.Attr{
		slog.String("id", r.ID),
		slog.Bool("enabled", r.Enabled),
		slog.String("hook_type", r.HookType),
		slog.String("sqs_queue_url", r.SQSQueueURL),
		slog.String("sqs_region", r.SQSRegion),
		slog.String("sqs_auth_type", r.SQSAuthType),
	}
	if r.SQSRoleARN != "" {
		attrs = append(attrs, slog.String("sqs_role_arn", r.SQSRoleARN))
	}
	if r.SQSKey != "" {
		attrs = append(attrs, slog.String("sqs_key", r.SQSKey))
	}
	if r.SQSSecret != "" {
		attrs = append(attrs, slog.String("sqs_secret", r.SQSSecret))
	}
	attrs = append(attrs, slog.Any("event_types", r.EventTypes))
	return slog.GroupValue(attrs...)
}

// Problem is one broken rule found by validation.
type Problem struct {
	Field string // e.g. "hooks[2].sqs_secret"
	Rule  string // e.g. `required when sqs_auth_type is "keys"`
}

// String returns "field: rule".
func (p Problem) String() string { return p.Field + ": " + p.Rule }

// ValidationError lists every problem found in a hook configuration. It wraps
// ErrInvalidHook:
//
//	var ve *sqshook.ValidationError
//	if errors.As(err, &ve) {
//		for _, p := range ve.Problems {
//			fmt.Println(p.Field, p.Rule)
//		}
//	}
type ValidationError struct {
	Problems []Problem
}

// Error lists every problem found.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("sqshook: invalid hook configuration: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalidHook) true.
func (e *ValidationError) Unwrap() error { return ErrInvalidHook }

// ValidateOptions adjusts validation to the deployment. The zero value
// validates for real AWS endpoints.
type ValidateOptions struct {
	// Endpoint is the SQS endpoint override (an emulator or a proxy), as
	// given to the clients. When it points at a loopback address, queue URLs
	// on that endpoint are accepted, http ones included, and their path must
	// be /<account id>/<queue name>. Empty means AWS's own endpoints.
	Endpoint string

	// ExternalID returns the ExternalId the server assigned to a "role"
	// hook's customer (see WithExternalID). Nil, or an empty result, makes
	// "role" hooks invalid: without an ExternalId the role's trust policy
	// cannot tell customers apart.
	ExternalID func(Hook) string

	// RoleAuthOnly refuses "resource" hooks (see WithRoleAuthOnly).
	RoleAuthOnly bool
}

// Validate checks one hook with ValidateOptions' zero value. Its problems are
// named "hook.<field>". An empty ID is not a problem (ValidateHooks fills it).
func (h Hook) Validate() error {
	var v validator
	v.hook("hook", h, ValidateOptions{})
	return v.err()
}

// ValidateHooks checks a whole configuration and reports every problem at
// once, each naming the field ("hooks[2].sqs_secret") and the rule. On
// success it returns a deep copy of hooks in which empty IDs are filled with
// IDs derived from the hook settings (hook type, queue URL, region, auth type,
// key id and event types; never the secret and not Enabled), so re-applying an
// unchanged configuration yields the same IDs. IDs must be unique.
func ValidateHooks(hooks []Hook, opts ValidateOptions) ([]Hook, error) {
	var v validator
	out := make([]Hook, len(hooks))
	seen := make(map[string]int, len(hooks))
	for i, h := range hooks {
		field := fmt.Sprintf("hooks[%d]", i)
		v.hook(field, h, opts)
		h = h.Clone()
		generated := h.ID == ""
		if generated {
			h.ID = GenerateHookID(h)
		}
		if j, dup := seen[h.ID]; dup {
			rule := fmt.Sprintf("duplicate of hooks[%d].id %q", j, h.ID)
			if generated {
				rule = fmt.Sprintf("generated id %q duplicates hooks[%d] (same settings twice)", h.ID, j)
			}
			v.add(field+".id", h.scrub(rule))
		} else {
			seen[h.ID] = i
		}
		out[i] = h
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// GenerateHookID returns the ID that ValidateHooks gives a hook with an empty
// ID: "sqs-" and 16 hex digits of a SHA-256 over the hook's settings. The
// secret and Enabled are not part of it, so rotating a secret or disabling a
// hook keeps its identity; event types are compared as a set.
func GenerateHookID(h Hook) string {
	types := slices.Clone(h.EventTypes)
	slices.Sort(types)
	types = slices.Compact(types)
	sum := sha256.New()
	for _, s := range []string{h.HookType, h.SQSQueueURL, h.SQSRegion, h.SQSAuthType, h.SQSKey} {
		sum.Write([]byte(s))
		sum.Write([]byte{0})
	}
	if h.SQSRoleARN != "" {
		sum.Write([]byte(h.SQSRoleARN))
		sum.Write([]byte{2})
	}
	for _, s := range types {
		sum.Write([]byte(s))
		sum.Write([]byte{1})
	}
	return "sqs-" + hex.EncodeToString(sum.Sum(nil)[:8])
}

var (
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	roleARNRE = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):iam::([0-9]{12}):role/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,64}$`)
	// externalIDRE is STS's rule for an ExternalId.
	externalIDRE = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	hookIDRE     = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
	pathRE       = regexp.MustCompile(`^/([0-9]{12})/([A-Za-z0-9_-]{1,75}(\.fifo)?|[A-Za-z0-9_-]{1,80})$`)
)

type validator struct{ problems []Problem }

func (v *validator) add(field, rule string) {
	v.problems = append(v.problems, Problem{Field: field, Rule: rule})
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

func (v *validator) hook(field string, h Hook, opts ValidateOptions) {
	// The rules quote what the customer typed: scrub the hook's own
	// credentials wherever they were typed.
	start := len(v.problems)
	defer func() {
		for i := start; i < len(v.problems); i++ {
			v.problems[i].Rule = h.scrub(v.problems[i].Rule)
		}
	}()
	if h.ID != "" && !hookIDRE.MatchString(h.ID) {
		v.add(field+".id", "must be 1-128 characters of letters, digits, '_', '.', ':' or '-'")
	}
	if !h.BodyEncoding.Valid() {
		v.add(field+".BodyEncoding", fmt.Sprintf(`unknown encoding %q; must be "", "raw", "base64" or "gzip"`, h.BodyEncoding))
	}
	switch {
	case h.HookType == HookTypeSQS:
	case h.HookType == "":
		v.add(field+".hook_type", `required; must be "sqs"`)
	case slices.Contains(otherHookTypes, h.HookType):
		v.add(field+".hook_type", fmt.Sprintf(`%q hooks are not delivered by this library; only "sqs"`, h.HookType))
	default:
		v.add(field+".hook_type", fmt.Sprintf(`unknown hook type %q; must be "sqs"`, h.HookType))
	}

	urlRegion, partition := v.queueURL(field+".sqs_queue_url", h.SQSQueueURL, opts)
	switch {
	case h.SQSRegion == "":
		v.add(field+".sqs_region", "required")
	case !regionRE.MatchString(h.SQSRegion):
		v.add(field+".sqs_region", fmt.Sprintf("%q is not an AWS region name (like \"us-east-1\")", h.SQSRegion))
	case urlRegion != "" && urlRegion != h.SQSRegion:
		v.add(field+".sqs_region", fmt.Sprintf("%q does not match the queue URL's region %q", h.SQSRegion, urlRegion))
	}

	if h.SQSAuthType != AuthRole && h.SQSRoleARN != "" {
		v.add(field+".sqs_role_arn", `must be empty unless sqs_auth_type is "role"`)
	}
	switch h.SQSAuthType {
	case AuthKeys:
		if h.SQSKey == "" {
			v.add(field+".sqs_key", `required when sqs_auth_type is "keys"`)
		} else if !validKeyID(h.SQSKey) {
			v.add(field+".sqs_key", "must be 16-128 letters and digits (an access key id)")
		}
		if h.SQSSecret == "" {
			v.add(field+".sqs_secret", `required when sqs_auth_type is "keys"`)
		} else if h.SQSSecret == redactedText {
			v.add(field+".sqs_secret", `is "[REDACTED]", the placeholder of a redacted copy (json.Marshal and every display of a Hook hide the secret): store hooks with MarshalHooks`)
		} else if strings.ContainsAny(h.SQSSecret, " \t\r\n") {
			v.add(field+".sqs_secret", "must not contain white space")
		}
	case AuthResource:
		if h.SQSKey != "" {
			v.add(field+".sqs_key", `must be empty when sqs_auth_type is "resource" (the server's own identity is used)`)
		}
		if h.SQSSecret != "" {
			v.add(field+".sqs_secret", `must be empty when sqs_auth_type is "resource" (the server's own identity is used)`)
		}
		if opts.RoleAuthOnly {
			v.add(field+".sqs_auth_type", `"resource" is not allowed here: every customer's queue policy would trust the same server principal; use "role"`)
		}
	case AuthRole:
		for _, f := range []struct{ name, value string }{{"sqs_key", h.SQSKey}, {"sqs_secret", h.SQSSecret}} {
			if f.value != "" {
				v.add(field+"."+f.name, `must be empty when sqs_auth_type is "role" (the role's temporary credentials are used)`)
			}
		}
		switch m := roleARNRE.FindStringSubmatch(h.SQSRoleARN); {
		case h.SQSRoleARN == "":
			v.add(field+".sqs_role_arn", `required when sqs_auth_type is "role"`)
		case m == nil || len(h.SQSRoleARN) > 2048:
			v.add(field+".sqs_role_arn", "must be an IAM role ARN, arn:<partition>:iam::<12-digit account id>:role/[path/]name")
		case partition != "" && m[1] != partition:
			v.add(field+".sqs_role_arn", fmt.Sprintf("is in partition %q but the queue is in partition %q", m[1], partition))
		}
		id := ""
		if opts.ExternalID != nil {
			id = opts.ExternalID(h)
		}
		switch {
		case id == "":
			v.add(field+".sqs_auth_type", `"role" needs the ExternalId the server assigns to the customer, and none is configured (WithExternalID)`)
		case len(id) < 2 || len(id) > 1224 || !externalIDRE.MatchString(id):
			v.add(field+".external_id", "the server's ExternalId for this hook must be 2-1224 characters of letters, digits and _+=,.@:/-")
		}
	case "":
		v.add(field+".sqs_auth_type", `required; must be "keys", "resource" or "role"`)
	default:
		v.add(field+".sqs_auth_type", fmt.Sprintf(`unknown auth type %q; must be "keys", "resource" or "role"`, h.SQSAuthType))
	}

	if len(h.EventTypes) > MaxEventTypes {
		v.add(field+".event_types", fmt.Sprintf("%d patterns, at most %d allowed", len(h.EventTypes), MaxEventTypes))
	} else if _, err := CompileFilter(h.EventTypes); err != nil {
		for i, p := range h.EventTypes {
			if rule := checkPattern(p); rule != "" {
				v.add(fmt.Sprintf("%s.event_types[%d]", field, i), rule)
			}
		}
	}
}

// queueURL checks the queue URL and returns the region and partition it
// names, if any.
func (v *validator) queueURL(field, raw string, opts ValidateOptions) (region, partition string) {
	if raw == "" {
		v.add(field, "required")
		return "", ""
	}
	q, awsErr := ParseQueueURL(raw)
	if awsErr == nil {
		return q.Region, q.Partition
	}
	// Not an AWS URL: acceptable only on an overridden loopback endpoint.
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		v.add(field, "has user information (…@); a queue URL has none")
		return "", ""
	}
	if err != nil || u.Host == "" {
		v.add(field, fmt.Sprintf("not a URL: %v", awsErr))
		return "", ""
	}
	if opts.Endpoint == "" || !isLoopbackURL(opts.Endpoint) {
		if u.Scheme == "http" {
			v.add(field, "must use https (http is allowed only with an endpoint override on a loopback address)")
			return "", ""
		}
		v.add(field, strings.TrimPrefix(awsErr.Error(), "sqshook: "))
		return "", ""
	}
	if !isLoopbackHost(u.Hostname()) {
		v.add(field, fmt.Sprintf("host %q is neither an SQS host nor the loopback endpoint override", u.Hostname()))
		return "", ""
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.RawQuery != "" || u.Fragment != "" || !pathRE.MatchString(u.Path) {
		v.add(field, "must look like <endpoint>/<12-digit account id>/<queue name> on the loopback endpoint")
	}
	return "", ""
}

func validKeyID(k string) bool {
	if len(k) < 16 || len(k) > 128 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func isLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && isLoopbackHost(u.Hostname())
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hookJSON mirrors Hook for decoding, so that a missing "enabled" can be told
// from false.
type hookJSON struct {
	ID          string   `json:"id"`
	Enabled     *bool    `json:"enabled"`
	HookType    string   `json:"hook_type"`
	SQSQueueURL string   `json:"sqs_queue_url"`
	SQSRegion   string   `json:"sqs_region"`
	SQSAuthType string   `json:"sqs_auth_type"`
	SQSKey      string   `json:"sqs_key"`
	SQSSecret   string   `json:"sqs_secret"`
	SQSRoleARN  string   `json:"sqs_role_arn"`
	EventTypes  []string `json:"event_types"`

	// ExternalId fields are refused: the server assigns ExternalIds.
	SQSExternalID json.RawMessage `json:"sqs_external_id"`
	ExternalID    json.RawMessage `json:"external_id"`
}

// misspeltField returns the first key of a hook object that names one of
// hookJSON's fields only when case is ignored, and that field's name.
func misspeltField(raw json.RawMessage) (name, want string) {
	var keys map[string]json.RawMessage
	if json.Unmarshal(raw, &keys) != nil {
		return "", ""
	}
	t := reflect.TypeFor[hookJSON]()
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		for i := range t.NumField() {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if k != tag && strings.EqualFold(k, tag) {
				return k, tag
			}
		}
	}
	return "", ""
}

// ParseHooks decodes a hook configuration: either Stream's app settings
// shape, {"event_hooks": [...]}, or a bare JSON array of hooks. Unknown
// fields are ignored (Stream's objects carry more, such as created_at),
// except "sqs_external_id" and "external_id", which are refused: the server
// assigns ExternalIds, a hook never chooses its own (see AuthRole). It
// reports decoding problems (bad JSON, a field of the wrong type, a missing
// "enabled"), each naming its hook; the rules of the fields themselves are
// checked by ValidateHooks, which New and SetHooks call.
func ParseHooks(data []byte) ([]Hook, error) {
	data = bytes.TrimSpace(data)
	var raws []json.RawMessage
	switch {
	case len(data) > 0 && data[0] == '[':
		if err := json.Unmarshal(data, &raws); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidHook, err)
		}
	case len(data) > 0 && data[0] == '{':
		var doc struct {
			EventHooks *[]json.RawMessage `json:"event_hooks"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%w: event_hooks: %v", ErrInvalidHook, err)
		}
		if doc.EventHooks == nil {
			return nil, fmt.Errorf("%w: event_hooks: required (an object must have an \"event_hooks\" array)", ErrInvalidHook)
		}
		raws = *doc.EventHooks
	default:
		return nil, fmt.Errorf("%w: want a JSON array of hooks or an object with \"event_hooks\"", ErrInvalidHook)
	}
	var v validator
	hooks := make([]Hook, 0, len(raws))
	for i, raw := range raws {
		field := fmt.Sprintf("hooks[%d]", i)
		var hj hookJSON
		if err := json.Unmarshal(raw, &hj); err != nil {
			v.add(field, jsonProblem(err))
			continue
		}
		if name, want := misspeltField(raw); name != "" {
			// encoding/json matches names whatever their case ("SQS_SECRET",
			// "ſqs_secret"); Stream's are exact, and a credential under
			// another spelling would slip past the code that hides it.
			v.add(field+"."+want, fmt.Sprintf("spelled %q; field names are case-sensitive", name))
			continue
		}
		if hj.Enabled == nil {
			v.add(field+".enabled", "required (true or false)")
		}
		for _, f := range []struct {
			name string
			raw  json.RawMessage
		}{{"sqs_external_id", hj.SQSExternalID}, {"external_id", hj.ExternalID}} {
			if f.raw != nil {
				v.add(field+"."+f.name, "not accepted in a hook: the server assigns each customer's ExternalId (a customer must not pick another's); remove it")
			}
		}
		hooks = append(hooks, Hook{
			ID:          hj.ID,
			Enabled:     hj.Enabled != nil && *hj.Enabled,
			HookType:    hj.HookType,
			SQSQueueURL: hj.SQSQueueURL,
			SQSRegion:   hj.SQSRegion,
			SQSAuthType: hj.SQSAuthType,
			SQSKey:      hj.SQSKey,
			SQSSecret:   hj.SQSSecret,
			SQSRoleARN:  hj.SQSRoleARN,
			EventTypes:  hj.EventTypes,
		})
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return hooks, nil
}

// jsonProblem describes a decoding error without echoing values (which may
// be secrets).
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("%s: must be a JSON %s, not %s", te.Field, expectedJSONType(te.Field), te.Value)
		}
		return fmt.Sprintf("must be a JSON object, not %s", te.Value)
	}
	return "not valid JSON: " + err.Error()
}

func expectedJSONType(field string) string {
	switch field {
	case "enabled":
		return "boolean"
	case "event_types":
		return "array of strings"
	}
	if strings.HasPrefix(field, "event_types") {
		return "string"
	}
	return "string"
}
