package sqshook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the AWS side of a hook: parsing SQS queue URLs into ARNs,
// building the IAM policy documents a customer attaches to a queue, to the
// sender's identity or to the role the server assumes (its trust policy),
// and a small, conservative evaluator that answers "would this policy let
// that principal send (or assume the role)?" without calling AWS.

// PolicyVersion is the policy language version that ResourcePolicy and
// PermissionPolicy write into every document.
const PolicyVersion = "2012-10-17"

const (
	policyDefaultResourceSid = "AllowSqshookSend"
	policyPermissionSid      = "SqshookSend"

	// policyMaxBytes bounds the documents ParsePolicy reads. Every AWS policy
	// type is far smaller (an SQS queue policy is at most 8,192 bytes), so a
	// larger input is not a policy AWS would accept.
	policyMaxBytes = 64 << 10

	// policyMaxURL bounds queue URLs and ARNs; an AWS ARN is at most 2,048
	// characters and an SQS URL is shorter still.
	policyMaxURL = 2048

	policyMaxQueueName = 80

	policyTrustSid = "AllowSqshookAssumeRole"
	policyKMSSid   = "SqshookKMS"

	// policyTrustMaxChars is IAM's default quota for the length of a role
	// trust policy ("Role trust policy length", 2,048 characters; it can be
	// raised through Service Quotas). IAM does not count white space, so
	// the compact JSON length is what counts. See "IAM and AWS STS
	// character limits" in the IAM User Guide (reference_iam-quotas).
	policyTrustMaxChars = 2048

	// policyIdentityMaxChars is the smallest IAM limit on an identity
	// policy: the aggregate of a user's inline policies (2,048 characters;
	// a role's inline policies may total 10,240, a managed policy 6,144).
	// A permission policy within it fits every way of attaching it.
	policyIdentityMaxChars = 2048

	policyExternalIDMin = 2
	policyExternalIDMax = 1224
)

// ---------------------------------------------------------------------------
// Queue URLs and ARNs

// QueueURL is a parsed Amazon SQS queue URL, as returned by ParseQueueURL.
//
// The zero QueueURL names no queue; its ARN is "". A QueueURL is a plain value:
// it is safe to copy and to share between goroutines.
type QueueURL struct {
	Raw         string // the URL exactly as given to ParseQueueURL
	Partition   string // "aws", "aws-cn", "aws-us-gov", "aws-iso" or "aws-iso-b"
	Region      string // e.g. "us-east-1"
	AccountID   string // the 12-digit account that owns the queue
	Name        string // queue name, including any ".fifo" suffix
	FIFO        bool   // Name ends in ".fifo"
	FIPS        bool   // the host is an sqs-fips endpoint
	VPCEndpoint bool   // the host is an interface VPC endpoint (vpce-….sqs.<region>.vpce.…)
	DualStack   bool   // the host is a dual-stack (IPv4 and IPv6) endpoint
}

// ARN returns the queue's ARN, arn:<partition>:sqs:<region>:<account>:<name>.
// It returns "" for a QueueURL that does not name a queue, such as the zero
// value.
func (q QueueURL) ARN() string {
	if q.Partition == "" || q.Region == "" || q.AccountID == "" || q.Name == "" {
		return ""
	}
	return "arn:" + q.Partition + ":sqs:" + q.Region + ":" + q.AccountID + ":" + q.Name
}

// QueueARN parses queueURL with ParseQueueURL and returns the queue's ARN.
// Errors are those of ParseQueueURL and wrap ErrInvalidQueueURL. It is safe
// for concurrent use.
func QueueARN(queueURL string) (string, error) {
	q, err := ParseQueueURL(queueURL)
	if err != nil {
		return "", err
	}
	return q.ARN(), nil
}

// ParseQueueURL parses an https Amazon SQS queue URL. It accepts these host
// forms, with the path /<12-digit account>/<queue name>:
//
//	sqs.<region>.amazonaws.com               standard (aws; us-gov-* regions are aws-us-gov)
//	sqs.<region>.amazonaws.com.cn            China (aws-cn)
//	sqs-fips.<region>.amazonaws.com          FIPS (US, Canada and GovCloud regions)
//	queue.amazonaws.com                      legacy, us-east-1
//	<region>.queue.amazonaws.com             legacy
//	vpce-<id>-<suffix>[-<az>].sqs.<region>.vpce.amazonaws.com   interface VPC endpoint
//	sqs[-fips].<region>.api.aws              dual-stack (api.amazonwebservices.com.cn in China)
//	sqs.<region>.c2s.ic.gov, sqs.<region>.sc2s.sgov.gov          aws-iso, aws-iso-b
//
// The scheme and host are matched case-insensitively; the path is strict. A
// queue name is 1 to 80 characters of letters, digits, '-' and '_', where a
// final ".fifo" (counted in the 80) marks a FIFO queue.
//
// Everything else is rejected with an error that wraps ErrInvalidQueueURL and
// says what is wrong: another scheme (including http), another host, an IP
// address, a port, user information, a query string or fragment, a missing or
// malformed account ID or queue name, extra path segments (a trailing slash
// included), a malformed region or a region that does not belong to the
// host's domain. Errors quote the URL with any user information replaced by
// "REDACTED". ParseQueueURL never panics and is safe for concurrent use.
func ParseQueueURL(raw string) (QueueURL, error) {
	q, problem := policyParseQueueURL(raw)
	if problem != "" {
		return QueueURL{}, fmt.Errorf("%w: %s: %s", ErrInvalidQueueURL, policyQuote(policyRedactUserinfo(raw)), problem)
	}
	return q, nil
}

// policyRedactUserinfo hides any user information (which may hold a password)
// in a URL that is about to be quoted in an error.
func policyRedactUserinfo(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	rest := raw[i+3:]
	authority := rest
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		authority = rest[:j]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return raw
	}
	return raw[:i+3] + "REDACTED" + rest[at:]
}

// QueueARNParts is a parsed Amazon SQS queue ARN, as returned by
// ParseQueueARN. The zero value names no queue. It is a plain value, safe to
// copy and share.
type QueueARNParts struct {
	Partition string // "aws", "aws-cn", "aws-us-gov", "aws-iso" or "aws-iso-b"
	Region    string
	AccountID string
	Name      string
	FIFO      bool // Name ends in ".fifo"
}

// String returns the ARN, arn:<partition>:sqs:<region>:<account>:<name>, or ""
// for a value that does not name a queue.
func (a QueueARNParts) String() string {
	return QueueURL{Partition: a.Partition, Region: a.Region, AccountID: a.AccountID, Name: a.Name}.ARN()
}

// ParseQueueARN parses the ARN of one SQS queue,
// arn:<partition>:sqs:<region>:<account>:<name>. Wildcards are not allowed.
// The partition must be one ParseQueueURL knows and must be the partition of
// the region; the account and name follow the same rules as in a queue URL.
// Errors wrap ErrInvalidPolicy. It never panics and is safe for concurrent
// use.
func ParseQueueARN(arn string) (QueueARNParts, error) {
	a, problem := policyParseQueueARN(arn)
	if problem != "" {
		return QueueARNParts{}, fmt.Errorf("%w: queue ARN %s: %s", ErrInvalidPolicy, policyQuote(arn), problem)
	}
	return a, nil
}

// policyPartition describes the DNS names of one AWS partition.
type policyPartition struct {
	name      string
	dnsSuffix string
	dualStack string // "" when the partition has no dual-stack endpoints
}

var policyPartitions = []policyPartition{
	{"aws", "amazonaws.com", "api.aws"},
	{"aws-cn", "amazonaws.com.cn", "api.amazonwebservices.com.cn"},
	{"aws-us-gov", "amazonaws.com", "api.aws"},
	{"aws-iso", "c2s.ic.gov", ""},
	{"aws-iso-b", "sc2s.sgov.gov", ""},
}

func policyKnownPartition(name string) bool {
	for _, p := range policyPartitions {
		if p.name == name {
			return true
		}
	}
	return false
}

func policyPartitionNamed(name string) policyPartition {
	for _, p := range policyPartitions {
		if p.name == name {
			return p
		}
	}
	return policyPartition{}
}

// policyValidRegion reports whether r has the shape of an AWS region name:
// lowercase words joined by '-', ending in a number, such as "us-east-1",
// "ap-southeast-2" or "us-gov-west-1".
func policyValidRegion(r string) bool {
	if len(r) < 4 || len(r) > 32 {
		return false
	}
	parts := strings.Split(r, "-")
	if len(parts) < 3 || len(parts[0]) < 2 || len(parts[0]) > 4 || len(parts[len(parts)-1]) > 2 {
		return false
	}
	for i, p := range parts {
		if p == "" {
			return false
		}
		last := i == len(parts)-1
		for j := 0; j < len(p); j++ {
			c := p[j]
			if last && (c < '0' || c > '9') || !last && (c < 'a' || c > 'z') {
				return false
			}
		}
	}
	return true
}

// policyRegionPartition returns the partition of a well-formed region name.
func policyRegionPartition(region string) (policyPartition, string) {
	parts := strings.Split(region, "-")
	switch {
	case parts[0] == "cn":
		return policyPartitionNamed("aws-cn"), ""
	case parts[0] == "us" && parts[1] == "gov":
		return policyPartitionNamed("aws-us-gov"), ""
	case parts[0] == "us" && parts[1] == "iso":
		return policyPartitionNamed("aws-iso"), ""
	case parts[0] == "us" && parts[1] == "isob":
		return policyPartitionNamed("aws-iso-b"), ""
	}
	for _, p := range parts[1:] {
		if strings.HasPrefix(p, "iso") {
			return policyPartition{}, fmt.Sprintf("region %q is in an isolated partition that is not supported", region)
		}
	}
	if parts[0] == "eusc" {
		return policyPartition{}, fmt.Sprintf("region %q is in the European Sovereign Cloud partition, which is not supported", region)
	}
	return policyPartitionNamed("aws"), ""
}

func policyIsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// policyQueueNameProblem returns the rule name breaks, or "".
func policyQueueNameProblem(name string) string {
	if name == "" {
		return "queue name is empty"
	}
	if len(name) > policyMaxQueueName {
		return fmt.Sprintf("queue name is %d characters long; the limit is %d (including any .fifo suffix)", len(name), policyMaxQueueName)
	}
	base := strings.TrimSuffix(name, ".fifo")
	if base == "" {
		return "queue name has nothing before \".fifo\""
	}
	for i := 0; i < len(base); i++ {
		c := base[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			continue
		}
		return fmt.Sprintf("queue name %s has %s; only letters, digits, '-' and '_' are allowed, plus a final \".fifo\"",
			policyQuote(name), strconv.Quote(base[i:i+1]))
	}
	return ""
}

const policyURLShape = "want https://sqs.<region>.amazonaws.com/<account-id>/<queue-name>"

func policyParseQueueURL(raw string) (QueueURL, string) {
	if raw == "" {
		return QueueURL{}, "is empty; " + policyURLShape
	}
	if len(raw) > policyMaxURL {
		return QueueURL{}, fmt.Sprintf("is longer than %d bytes", policyMaxURL)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f {
			return QueueURL{}, "contains white space, control or non-ASCII characters"
		}
	}
	i := strings.Index(raw, "://")
	if i < 0 {
		return QueueURL{}, "has no scheme; " + policyURLShape
	}
	switch scheme := strings.ToLower(raw[:i]); scheme {
	case "https":
	case "http":
		return QueueURL{}, "scheme is http; Amazon SQS queue URLs use https"
	default:
		return QueueURL{}, fmt.Sprintf("scheme %s is not https", policyQuote(raw[:i]))
	}
	rest := raw[i+3:]
	if strings.ContainsRune(rest, '#') {
		return QueueURL{}, "has a fragment (#…); a queue URL has none"
	}
	if strings.ContainsRune(rest, '?') {
		return QueueURL{}, "has a query string (?…); a queue URL has none"
	}
	host, path := rest, ""
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		host, path = rest[:j], rest[j:]
	}
	switch {
	case strings.ContainsRune(host, '@'):
		return QueueURL{}, "has user information (…@) before the host; a queue URL has none"
	case host == "":
		return QueueURL{}, "has no host; " + policyURLShape
	case strings.HasPrefix(host, "["):
		return QueueURL{}, "host is an IP address, not an Amazon SQS endpoint"
	case strings.ContainsRune(host, ':'):
		return QueueURL{}, "has a port; Amazon SQS endpoints use the default https port"
	}
	q, problem := policyParseHost(strings.ToLower(host))
	if problem != "" {
		return QueueURL{}, problem
	}
	if path == "" || path == "/" {
		return QueueURL{}, "has no path; want /<account-id>/<queue-name> after the host"
	}
	segs := strings.Split(path[1:], "/")
	if segs[0] == "" {
		return QueueURL{}, "path has an empty account ID segment; want /<account-id>/<queue-name>"
	}
	if !policyIsAccountID(segs[0]) {
		return QueueURL{}, fmt.Sprintf("account ID %s is not 12 digits", policyQuote(segs[0]))
	}
	if len(segs) < 2 || len(segs) == 2 && segs[1] == "" {
		return QueueURL{}, "has no queue name after the account ID"
	}
	if len(segs) > 2 {
		return QueueURL{}, "has a trailing slash or extra path segments after the queue name; want /<account-id>/<queue-name>"
	}
	if p := policyQueueNameProblem(segs[1]); p != "" {
		return QueueURL{}, p
	}
	q.Raw = raw
	q.AccountID = segs[0]
	q.Name = segs[1]
	q.FIFO = strings.HasSuffix(q.Name, ".fifo")
	return q, ""
}

// policyParseHost recognises the SQS endpoint forms listed on ParseQueueURL.
// host is already lowercase.
func policyParseHost(host string) (QueueURL, string) {
	notSQS := fmt.Sprintf("host %q is not an Amazon SQS endpoint; %s", host, policyURLShape)
	if strings.HasSuffix(host, ".") {
		return QueueURL{}, fmt.Sprintf("host %q ends in a dot", host)
	}
	if host == "queue.amazonaws.com" {
		return QueueURL{Partition: "aws", Region: "us-east-1"}, ""
	}
	suffix, dual := "", false
	for _, p := range policyPartitions {
		for _, s := range [2]string{p.dnsSuffix, p.dualStack} {
			if s != "" && len(s) > len(suffix) && strings.HasSuffix(host, "."+s) {
				suffix, dual = s, s == p.dualStack
			}
		}
	}
	if suffix == "" {
		return QueueURL{}, notSQS
	}
	labels := strings.Split(strings.TrimSuffix(host, "."+suffix), ".")
	var q QueueURL
	var vpceLabel string
	switch {
	case len(labels) == 2 && (labels[0] == "sqs" || labels[0] == "sqs-fips"):
		q.Region, q.FIPS, q.DualStack = labels[1], labels[0] == "sqs-fips", dual
	case !dual && len(labels) == 2 && labels[1] == "queue":
		q.Region = labels[0]
	case !dual && len(labels) == 4 && labels[1] == "sqs" && labels[3] == "vpce":
		q.Region, q.VPCEndpoint, vpceLabel = labels[2], true, labels[0]
	default:
		return QueueURL{}, notSQS
	}
	if !policyValidRegion(q.Region) {
		return QueueURL{}, fmt.Sprintf("region %q in host %q is not a valid AWS region name", q.Region, host)
	}
	p, problem := policyRegionPartition(q.Region)
	if problem != "" {
		return QueueURL{}, problem
	}
	want := p.dnsSuffix
	if dual {
		want = p.dualStack
	}
	switch {
	case want == "":
		return QueueURL{}, fmt.Sprintf("region %s is in partition %s, which has no dual-stack SQS endpoints", q.Region, p.name)
	case suffix != want:
		return QueueURL{}, fmt.Sprintf("region %s is in partition %s, whose SQS endpoints end in .%s, not .%s", q.Region, p.name, want, suffix)
	}
	if q.FIPS && p.name != "aws-us-gov" &&
		!(p.name == "aws" && (strings.HasPrefix(q.Region, "us-") || strings.HasPrefix(q.Region, "ca-"))) {
		return QueueURL{}, fmt.Sprintf("region %s has no FIPS endpoint; sqs-fips exists only in US, Canada and GovCloud regions", q.Region)
	}
	if vpceLabel != "" {
		if problem := policyVPCELabelProblem(vpceLabel, q.Region); problem != "" {
			return QueueURL{}, problem
		}
	}
	q.Partition = p.name
	return q, ""
}

// policyVPCELabelProblem checks the first label of an interface endpoint host:
// vpce-<hex id>-<suffix>, optionally followed by -<availability zone>.
func policyVPCELabelProblem(label, region string) string {
	bad := fmt.Sprintf("VPC endpoint label %q is not of the form vpce-<id>-<suffix>[-<availability-zone>]", label)
	parts := strings.Split(label, "-")
	if len(parts) < 3 || parts[0] != "vpce" {
		return bad
	}
	id, sfx := parts[1], parts[2]
	if len(id) < 8 || len(id) > 17 || len(sfx) < 1 || len(sfx) > 32 {
		return bad
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return bad
		}
	}
	for i := 0; i < len(sfx); i++ {
		if c := sfx[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return bad
		}
	}
	if len(parts) > 3 {
		az := strings.Join(parts[3:], "-")
		if len(az) != len(region)+1 || !strings.HasPrefix(az, region) || az[len(az)-1] < 'a' || az[len(az)-1] > 'z' {
			return fmt.Sprintf("availability zone %q in VPC endpoint label %q is not a zone of region %s", az, label, region)
		}
	}
	return ""
}

func policyParseQueueARN(arn string) (QueueARNParts, string) {
	if len(arn) > policyMaxURL {
		return QueueARNParts{}, fmt.Sprintf("is longer than %d bytes", policyMaxURL)
	}
	f := strings.Split(arn, ":")
	if len(f) != 6 || f[0] != "arn" {
		return QueueARNParts{}, "is not of the form arn:<partition>:sqs:<region>:<account-id>:<queue-name>"
	}
	if !policyKnownPartition(f[1]) {
		return QueueARNParts{}, fmt.Sprintf("partition %s is not a known AWS partition", policyQuote(f[1]))
	}
	if f[2] != "sqs" {
		return QueueARNParts{}, fmt.Sprintf("service %s is not sqs", policyQuote(f[2]))
	}
	if !policyValidRegion(f[3]) {
		return QueueARNParts{}, fmt.Sprintf("region %s is not a valid AWS region name", policyQuote(f[3]))
	}
	p, problem := policyRegionPartition(f[3])
	if problem != "" {
		return QueueARNParts{}, problem
	}
	if p.name != f[1] {
		return QueueARNParts{}, fmt.Sprintf("region %s is in partition %s, not %s", f[3], p.name, f[1])
	}
	if !policyIsAccountID(f[4]) {
		return QueueARNParts{}, fmt.Sprintf("account ID %s is not 12 digits", policyQuote(f[4]))
	}
	if problem := policyQueueNameProblem(f[5]); problem != "" {
		return QueueARNParts{}, problem
	}
	return QueueARNParts{Partition: f[1], Region: f[3], AccountID: f[4], Name: f[5], FIFO: strings.HasSuffix(f[5], ".fifo")}, ""
}

// policyQuote quotes s for an error message, cutting very long input short.
func policyQuote(s string) string {
	const max = 256
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

// ---------------------------------------------------------------------------
// Policy documents

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
		f := strings.SplitN(v, ":", 6)
		if len(f) != 6 || f[1] == "" || (f[2] != "iam" && f[2] != "sts") || f[5] == "" {
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

// ---------------------------------------------------------------------------
// Building policies

// ResourcePolicyOptions tunes ResourcePolicy. The zero value gives the plain
// statement of Stream's documentation with the Sid "AllowSqshookSend".
//
// SourceAccount and SourceArn are set by AWS only when an AWS service (such as
// SNS or EventBridge) sends on behalf of a resource; when the principal calls
// SendMessage itself those keys are absent from the request and a statement
// that requires them does not match. Use them only for such service-mediated
// delivery. PrincipalOrgID is present for every request from an account that
// belongs to an AWS Organization.
type ResourcePolicyOptions struct {
	// Sid names the statement; default "AllowSqshookSend". It may hold 1 to
	// 128 letters, digits, '_' and '-'.
	Sid string
	// SourceAccount, when set, adds Condition StringEquals aws:SourceAccount.
	// It must be 12 digits.
	SourceAccount string
	// SourceArn, when set, adds Condition ArnLike aws:SourceArn. It must be an
	// ARN (wildcards '*' and '?' allowed outside the partition and service)
	// in the queue's partition.
	SourceArn string
	// PrincipalOrgID, when set, adds Condition StringEquals aws:PrincipalOrgID.
	// It must be "o-" followed by 10 to 32 lowercase letters or digits.
	PrincipalOrgID string
}

// ResourcePolicy returns the queue policy that lets principal send messages
// to the queue at queueURL, shaped as in Stream's documentation:
//
//	{"Version": "2012-10-17", "Statement": [{"Sid": "AllowSqshookSend",
//	  "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::<account>:root"},
//	  "Action": "SQS:SendMessage", "Resource": "<queue ARN>"}]}
//
// principal is a 12-digit account ID, which becomes the account root ARN in
// the queue's partition (the root ARN delegates to the whole account: any
// user or role there that its own IAM policies allow may send), or an IAM ARN
// arn:<partition>:iam::<account>:root, …:user/[path/]name or
// …:role/[path/]name, whose partition must be the queue's. "*" is refused.
// opts adds conditions (see ResourcePolicyOptions), which all go in the one
// statement.
//
// An invalid queueURL gives an error wrapping ErrInvalidQueueURL; an invalid
// principal or option gives one wrapping ErrInvalidPolicy. ResourcePolicy is
// safe for concurrent use.
func ResourcePolicy(queueURL, principal string, opts ResourcePolicyOptions) (PolicyDocument, error) {
	q, err := ParseQueueURL(queueURL)
	if err != nil {
		return PolicyDocument{}, err
	}
	pr, problem := policyParseIAMPrincipal(principal)
	if problem != "" {
		return PolicyDocument{}, policyErrorf("principal %s: %s", policyQuote(principal), problem)
	}
	principalARN := pr.arn
	switch {
	case pr.partition == "":
		principalARN = "arn:" + q.Partition + ":iam::" + pr.account + ":root"
	case pr.partition != q.Partition:
		return PolicyDocument{}, policyErrorf("principal %s is in partition %s but the queue is in partition %s",
			policyQuote(principal), pr.partition, q.Partition)
	}
	sid := opts.Sid
	if sid == "" {
		sid = policyDefaultResourceSid
	}
	if problem := policySidProblem(sid); problem != "" {
		return PolicyDocument{}, policyErrorf("Sid %s: %s", policyQuote(sid), problem)
	}
	cond := map[string]map[string]StringList{}
	addCond := func(op, key, value string) {
		if cond[op] == nil {
			cond[op] = map[string]StringList{}
		}
		cond[op][key] = StringList{value}
	}
	if opts.SourceAccount != "" {
		if !policyIsAccountID(opts.SourceAccount) {
			return PolicyDocument{}, policyErrorf("SourceAccount %s is not 12 digits", policyQuote(opts.SourceAccount))
		}
		addCond("StringEquals", "aws:SourceAccount", opts.SourceAccount)
	}
	if opts.SourceArn != "" {
		if problem := policySourceARNProblem(opts.SourceArn, q.Partition); problem != "" {
			return PolicyDocument{}, policyErrorf("SourceArn %s: %s", policyQuote(opts.SourceArn), problem)
		}
		addCond("ArnLike", "aws:SourceArn", opts.SourceArn)
	}
	if opts.PrincipalOrgID != "" {
		if !policyIsOrgID(opts.PrincipalOrgID) {
			return PolicyDocument{}, policyErrorf("PrincipalOrgID %s is not \"o-\" followed by 10 to 32 lowercase letters or digits", policyQuote(opts.PrincipalOrgID))
		}
		addCond("StringEquals", "aws:PrincipalOrgID", opts.PrincipalOrgID)
	}
	st := Statement{
		Sid:       sid,
		Effect:    "Allow",
		Principal: &Principal{AWS: StringList{principalARN}},
		Action:    StringList{"SQS:SendMessage"},
		Resource:  StringList{q.ARN()},
	}
	if len(cond) > 0 {
		st.Condition = cond
	}
	doc := PolicyDocument{Version: PolicyVersion, Statement: []Statement{st}}
	if b, err := json.Marshal(doc); err != nil || len(b) > MaxQueuePolicyBytes {
		return PolicyDocument{}, policyErrorf("the queue policy would be %d bytes; SQS accepts at most %d", len(b), MaxQueuePolicyBytes)
	}
	return doc, nil
}

// MaxQueuePolicyBytes is the largest queue policy SQS accepts.
const MaxQueuePolicyBytes = 8192

// PermissionPolicy returns the identity-based policy that the sending IAM
// user or role needs for the given queues, as in Stream's documentation: one
// statement with the Sid "SqshookSend", Effect "Allow", the actions
// sqs:GetQueueUrl, sqs:SendMessage, sqs:SendMessageBatch and
// sqs:GetQueueAttributes, and the queue ARNs as Resource (duplicates removed,
// first-seen order kept; a single ARN is written as a plain string).
//
// An invalid URL gives an error wrapping ErrInvalidQueueURL and naming its
// position; no URLs, or URLs from more than one partition (an IAM policy
// lives in one), give an error wrapping ErrInvalidPolicy. PermissionPolicy is
// safe for concurrent use.
func PermissionPolicy(queueURLs ...string) (PolicyDocument, error) {
	if len(queueURLs) == 0 {
		return PolicyDocument{}, policyErrorf("a permission policy needs at least one queue URL")
	}
	var arns StringList
	seen := make(map[string]bool, len(queueURLs))
	partition := ""
	for i, u := range queueURLs {
		q, err := ParseQueueURL(u)
		if err != nil {
			return PolicyDocument{}, fmt.Errorf("queue URL %d: %w", i, err)
		}
		if partition == "" {
			partition = q.Partition
		} else if q.Partition != partition {
			return PolicyDocument{}, policyErrorf("queue URL %d is in partition %s but earlier queues are in %s; an IAM policy belongs to one partition",
				i, q.Partition, partition)
		}
		if arn := q.ARN(); !seen[arn] {
			seen[arn] = true
			arns = append(arns, arn)
		}
	}
	return PolicyDocument{
		Version: PolicyVersion,
		Statement: []Statement{{
			Sid:      policyPermissionSid,
			Effect:   "Allow",
			Action:   StringList{"sqs:GetQueueUrl", "sqs:SendMessage", "sqs:SendMessageBatch", "sqs:GetQueueAttributes"},
			Resource: arns,
		}},
	}, nil
}

// TrustPolicy returns the trust policy of the IAM role a customer creates
// for "role" auth (AuthRole): it lets principal, the chat server's own
// identity, call sts:AssumeRole, but only with the ExternalId the server
// assigned to this customer, which stops one customer from making the
// server send into another customer's queue (the confused-deputy problem):
//
//	{"Version": "2012-10-17", "Statement": [{"Sid": "AllowSqshookAssumeRole",
//	  "Effect": "Allow", "Principal": {"AWS": "<principal>"},
//	  "Action": "sts:AssumeRole",
//	  "Condition": {"StringEquals": {"sts:ExternalId": "<externalID>"}}}]}
//
// A trust policy has no Resource: it belongs to the role it allows assuming.
//
// principal must be an IAM ARN, arn:<partition>:iam::<account>:root,
// …:user/[path/]name or …:role/[path/]name, written exactly as IAM knows it
// (paths included); it is copied as given. A bare account ID is refused,
// because it does not say the partition: write arn:aws:iam::<account>:root
// (or the partition of the server's account) instead; that trusts every
// principal of the server's account that its own policies allow
// sts:AssumeRole. "*" and wildcards are refused: the ExternalId is not a
// secret, so a role that trusts everyone with it is open to anyone who
// learns it. An STS assumed-role session ARN (what sts:GetCallerIdentity
// reports for a server running as a role) is refused too: convert it with
// PrincipalFromARN first.
//
// externalID is required and must be what STS accepts: 2 to 1,224
// characters of ASCII letters, digits and _+=,.@:/-. It comes from the
// server's configuration (WithExternalID), never from the hook.
//
// Inputs are JSON-encoded, never spliced, so they cannot change the
// document's structure. The result is at most 2,025 characters for any
// valid input whose path holds no '"' or '\' (which JSON escapes), under
// IAM's default 2,048-character quota for a role trust policy (IAM does not
// count white space, and the compact JSON has none); a longer result gives
// an error.
//
// Every error wraps ErrInvalidPolicy and names the input and the rule it
// breaks. TrustPolicy is a pure function, safe for concurrent use.
func TrustPolicy(principal, externalID string) (PolicyDocument, error) {
	if problem := policyTrustPrincipalProblem(principal); problem != "" {
		return PolicyDocument{}, policyErrorf("trust policy principal %s: %s", policyQuote(principal), problem)
	}
	if problem := policyExternalIDProblem(externalID); problem != "" {
		return PolicyDocument{}, policyErrorf("trust policy external ID %s: %s", policyQuote(externalID), problem)
	}
	doc := PolicyDocument{
		Version: PolicyVersion,
		Statement: []Statement{{
			Sid:       policyTrustSid,
			Effect:    "Allow",
			Principal: &Principal{AWS: StringList{principal}},
			Action:    StringList{"sts:AssumeRole"},
			Condition: map[string]map[string]StringList{
				"StringEquals": {"sts:ExternalId": StringList{externalID}},
			},
		}},
	}
	if err := policyCheckSize(doc, policyTrustMaxChars, "IAM's default quota for a role trust policy (it can be raised through Service Quotas)"); err != nil {
		return PolicyDocument{}, err
	}
	return doc, nil
}

// policyTrustPrincipalProblem checks the principal of a trust policy.
func policyTrustPrincipalProblem(principal string) string {
	const shape = "want the server's IAM ARN, arn:<partition>:iam::<account-id>:role/<name>, …:user/<name> or …:root"
	switch {
	case principal == "":
		return "is empty; " + shape + " (aws sts get-caller-identity prints it)"
	case principal == "*":
		return "\"*\" would let every AWS account assume the role, and the ExternalId is not a secret; " + shape
	case strings.ContainsAny(principal, "*?"):
		return "wildcards are not allowed: name exactly the server's principal; " + shape
	case policyIsAccountID(principal):
		return "an account ID does not say its partition; write arn:aws:iam::" + principal + ":root (in the server's partition)"
	}
	if f := strings.SplitN(principal, ":", 6); len(f) == 6 && f[0] == "arn" && f[2] == "sts" {
		return "is an STS ARN (a session, not an IAM principal); name the role instead (PrincipalFromARN converts an assumed-role ARN)"
	}
	if _, problem := policyParseIAMPrincipal(principal); problem != "" {
		return problem
	}
	return ""
}

// policyExternalIDProblem checks an ExternalId against the rule of STS
// AssumeRole: 2 to 1,224 characters matching [\w+=,.@:/-].
func policyExternalIDProblem(id string) string {
	const rule = "must be 2 to 1,224 characters of ASCII letters, digits and _+=,.@:/- (the STS ExternalId rule)"
	if id == "" {
		return "is required; " + rule
	}
	if len(id) < policyExternalIDMin || len(id) > policyExternalIDMax {
		return fmt.Sprintf("is %d characters long; it %s", len(id), rule)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_+=,.@:/-", c) >= 0 {
			continue
		}
		return fmt.Sprintf("has %s at byte %d; it %s", strconv.QuoteToASCII(id[i:i+1]), i, rule)
	}
	return ""
}

// policyCheckSize returns an error if the compact JSON of doc is longer than
// max characters.
func policyCheckSize(doc PolicyDocument, max int, what string) error {
	b, err := policyMarshal(doc)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
	}
	if n := utf8.RuneCount(b); n > max {
		return policyErrorf("the policy is %d characters long (without white space), more than the %d of %s", n, max, what)
	}
	return nil
}

// RolePermissionPolicy returns the identity-based policy for the IAM role
// (or user) that sends to the queue at queueURL: the statement of
// PermissionPolicy (Sid "SqshookSend": sqs:GetQueueUrl, sqs:SendMessage,
// sqs:SendMessageBatch and sqs:GetQueueAttributes on the queue) and, when
// kmsKeyARN is not empty, a second statement with the Sid "SqshookKMS" that
// allows kms:GenerateDataKey and kms:Decrypt, which AWS documents as what a
// producer needs to send to a queue encrypted with a customer managed KMS
// key (SSE-KMS). Leave kmsKeyARN empty for an unencrypted queue, SQS-managed
// encryption (SSE-SQS) or the AWS managed key alias/aws/sqs, whose key
// policy already lets the account's principals use it through SQS.
//
// kmsKeyARN is either a key ARN, arn:<partition>:kms:<region>:<account>:key/<key-id>
// (a key ID is a lowercase UUID or, for a multi-Region key, "mrk-" and 32
// lowercase hex digits), which becomes the statement's Resource, or an alias
// ARN, …:alias/<name>. IAM matches a KMS key only by its key ARN in
// Resource, so an alias ARN becomes Resource
// arn:<partition>:kms:<region>:<account>:key/* with the condition
// ForAnyValue:StringEquals kms:ResourceAliases "alias/<name>", AWS's
// documented way to grant by alias. The key must be in the queue's
// partition; its region and account are not compared with the queue's. A
// key in another account also needs its key policy to allow the role.
//
// The result is far under 2,048 characters without white space, the
// smallest IAM limit on an identity policy (a user's inline policies
// together; a role's may total 10,240, a managed policy 6,144), so it can be
// attached either way; a longer result would be an error.
//
// An invalid queueURL gives an error wrapping ErrInvalidQueueURL; an invalid
// kmsKeyARN one wrapping ErrInvalidPolicy that names the rule.
// RolePermissionPolicy is a pure function, safe for concurrent use.
func RolePermissionPolicy(queueURL, kmsKeyARN string) (PolicyDocument, error) {
	q, err := ParseQueueURL(queueURL)
	if err != nil {
		return PolicyDocument{}, err
	}
	doc, err := PermissionPolicy(queueURL)
	if err != nil {
		return PolicyDocument{}, err
	}
	if kmsKeyARN != "" {
		st, problem := policyKMSStatement(kmsKeyARN, q.Partition)
		if problem != "" {
			return PolicyDocument{}, policyErrorf("KMS key ARN %s: %s", policyQuote(kmsKeyARN), problem)
		}
		doc.Statement = append(doc.Statement, st)
	}
	if err := policyCheckSize(doc, policyIdentityMaxChars, "the smallest IAM identity policy limit (a user's inline policies)"); err != nil {
		return PolicyDocument{}, err
	}
	return doc, nil
}

// policyKMSStatement builds the KMS statement of RolePermissionPolicy.
func policyKMSStatement(arn, partition string) (Statement, string) {
	const shape = "want arn:<partition>:kms:<region>:<account-id>:key/<key-id> or …:alias/<alias-name>"
	if len(arn) > policyMaxURL {
		return Statement{}, fmt.Sprintf("is longer than %d bytes", policyMaxURL)
	}
	if strings.ContainsAny(arn, "*?") {
		return Statement{}, "wildcards are not allowed: name the queue's key; " + shape
	}
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" {
		return Statement{}, "is not an ARN; " + shape
	}
	if !policyKnownPartition(f[1]) {
		return Statement{}, fmt.Sprintf("partition %s is not a known AWS partition", policyQuote(f[1]))
	}
	if f[1] != partition {
		return Statement{}, fmt.Sprintf("partition %s is not the queue's partition %s; an IAM policy and the key it grants must be in the queue's partition", f[1], partition)
	}
	if f[2] != "kms" {
		return Statement{}, fmt.Sprintf("service %s is not kms; %s", policyQuote(f[2]), shape)
	}
	if !policyValidRegion(f[3]) {
		return Statement{}, fmt.Sprintf("region %s is not a valid AWS region name (KMS keys are regional)", policyQuote(f[3]))
	}
	if p, problem := policyRegionPartition(f[3]); problem != "" {
		return Statement{}, problem
	} else if p.name != f[1] {
		return Statement{}, fmt.Sprintf("region %s is in partition %s, not %s", f[3], p.name, f[1])
	}
	if !policyIsAccountID(f[4]) {
		return Statement{}, fmt.Sprintf("account ID %s is not 12 digits", policyQuote(f[4]))
	}
	st := Statement{Sid: policyKMSSid, Effect: "Allow", Action: StringList{"kms:GenerateDataKey", "kms:Decrypt"}}
	kind, id, _ := strings.Cut(f[5], "/")
	switch kind {
	case "key":
		if !policyIsKMSKeyID(id) {
			return Statement{}, fmt.Sprintf("key ID %s is not a lowercase UUID (1234abcd-12ab-34cd-56ef-1234567890ab) or a multi-Region key ID (mrk- and 32 lowercase hex digits)", policyQuote(id))
		}
		st.Resource = StringList{arn}
	case "alias":
		if problem := policyKMSAliasProblem(id); problem != "" {
			return Statement{}, problem
		}
		st.Resource = StringList{"arn:" + f[1] + ":kms:" + f[3] + ":" + f[4] + ":key/*"}
		st.Condition = map[string]map[string]StringList{
			"ForAnyValue:StringEquals": {"kms:ResourceAliases": StringList{"alias/" + id}},
		}
	default:
		return Statement{}, fmt.Sprintf("resource %s is neither key/<key-id> nor alias/<alias-name>; %s", policyQuote(f[5]), shape)
	}
	return st, ""
}

// policyIsKMSKeyID reports whether id is a KMS key ID: a lowercase UUID or
// "mrk-" and 32 lowercase hex digits.
func policyIsKMSKeyID(id string) bool {
	hex := func(s string) bool {
		return s != "" && strings.IndexFunc(s, func(c rune) bool { return !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') }) < 0
	}
	if rest, ok := strings.CutPrefix(id, "mrk-"); ok {
		return len(rest) == 32 && hex(rest)
	}
	parts := strings.Split(id, "-")
	if len(parts) != 5 {
		return false
	}
	for i, n := range [5]int{8, 4, 4, 4, 12} {
		if len(parts[i]) != n || !hex(parts[i]) {
			return false
		}
	}
	return true
}

// policyKMSAliasProblem checks the name after "alias/": with the prefix, 1 to
// 256 characters of letters, digits, '/', '_' and '-', not an AWS managed
// key's alias (alias/aws/…).
func policyKMSAliasProblem(name string) string {
	switch {
	case name == "":
		return "alias name is empty"
	case len("alias/"+name) > 256:
		return "alias name is longer than 256 characters (with its alias/ prefix)"
	case name == "aws" || strings.HasPrefix(name, "aws/"):
		return "is an AWS managed key's alias (alias/aws/…), whose key policy already lets the account's principals use it through SQS; leave the KMS key empty"
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '_' || c == '-') {
			return fmt.Sprintf("alias name %s may hold only letters, digits, '/', '_' and '-'", policyQuote(name))
		}
	}
	return ""
}

func policySidProblem(sid string) string {
	if len(sid) > 128 {
		return "is longer than 128 characters"
	}
	for i := 0; i < len(sid); i++ {
		if c := sid[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "may hold only letters, digits, '_' and '-'"
		}
	}
	return ""
}

func policyIsOrgID(s string) bool {
	if !strings.HasPrefix(s, "o-") || len(s) < 12 || len(s) > 34 {
		return false
	}
	for i := 2; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// policySourceARNProblem checks an ARN pattern for an ArnLike condition.
func policySourceARNProblem(s, partition string) string {
	if len(s) > policyMaxURL {
		return fmt.Sprintf("is longer than %d bytes", policyMaxURL)
	}
	if policyHasControlOrSpace(s) || !utf8.ValidString(s) {
		return "has white space, control characters or invalid UTF-8"
	}
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 || f[0] != "arn" {
		return "is not an ARN (arn:<partition>:<service>:<region>:<account-id>:<resource>)"
	}
	if f[1] != partition {
		return fmt.Sprintf("partition %s is not the queue's partition %s", policyQuote(f[1]), partition)
	}
	if f[2] == "" || strings.IndexFunc(f[2], func(c rune) bool { return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') }) >= 0 {
		return fmt.Sprintf("service %s must be lowercase letters, digits and '-' (no wildcards)", policyQuote(f[2]))
	}
	if strings.IndexFunc(f[3], func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '*' || c == '?')
	}) >= 0 {
		return fmt.Sprintf("region %s is not a region name or pattern", policyQuote(f[3]))
	}
	acct := f[4]
	badAcct := strings.IndexFunc(acct, func(c rune) bool { return !(c >= '0' && c <= '9' || c == '*' || c == '?') }) >= 0
	if !strings.Contains(acct, "*") && acct != "" && len(acct) != 12 {
		badAcct = true // without '*', an account pattern has exactly 12 characters
	}
	if badAcct {
		return fmt.Sprintf("account %s is not a 12-digit account ID or pattern", policyQuote(acct))
	}
	if f[5] == "" {
		return "has an empty resource part"
	}
	return ""
}

// policyIAMPrincipal is a validated principal given to ResourcePolicy or
// Allows.
type policyIAMPrincipal struct {
	partition string // "" for a bare account ID
	account   string
	root      bool   // the account root (or a bare account ID)
	arn       string // "" for a bare account ID
	roleName  string // the role's name (without path) for a role ARN
}

const policyPrincipalShape = "want a 12-digit account ID or an IAM ARN arn:<partition>:iam::<account-id>:root, …:user/<name> or …:role/<name>"

func policyParseIAMPrincipal(s string) (policyIAMPrincipal, string) {
	switch {
	case s == "":
		return policyIAMPrincipal{}, "is empty; " + policyPrincipalShape
	case s == "*":
		return policyIAMPrincipal{}, "\"*\" is every principal, not one; " + policyPrincipalShape
	case policyIsAccountID(s):
		return policyIAMPrincipal{account: s, root: true}, ""
	case !strings.HasPrefix(s, "arn:"):
		return policyIAMPrincipal{}, policyPrincipalShape
	case len(s) > policyMaxURL:
		return policyIAMPrincipal{}, fmt.Sprintf("is longer than %d bytes", policyMaxURL)
	}
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 {
		return policyIAMPrincipal{}, policyPrincipalShape
	}
	if !policyKnownPartition(f[1]) {
		return policyIAMPrincipal{}, fmt.Sprintf("partition %s is not a known AWS partition", policyQuote(f[1]))
	}
	if f[2] != "iam" {
		return policyIAMPrincipal{}, fmt.Sprintf("service %s is not iam; %s", policyQuote(f[2]), policyPrincipalShape)
	}
	if f[3] != "" {
		return policyIAMPrincipal{}, "IAM ARNs have no region"
	}
	if !policyIsAccountID(f[4]) {
		return policyIAMPrincipal{}, fmt.Sprintf("account ID %s is not 12 digits", policyQuote(f[4]))
	}
	p := policyIAMPrincipal{partition: f[1], account: f[4], arn: s}
	res := f[5]
	if res == "root" {
		p.root = true
		return p, ""
	}
	kind, rest, _ := strings.Cut(res, "/")
	if kind != "user" && kind != "role" {
		return policyIAMPrincipal{}, fmt.Sprintf("resource %s is not root, user/<name> or role/<name>", policyQuote(res))
	}
	if problem := policyIAMPathNameProblem(rest); problem != "" {
		return policyIAMPrincipal{}, kind + " " + problem
	}
	if kind == "role" {
		p.roleName = rest[strings.LastIndexByte(rest, '/')+1:]
	}
	return p, ""
}

// policyIAMPathNameProblem checks "[path/]name" of an IAM user or role: path
// segments of printable ASCII (at most 512 characters with the slashes), a
// name of 1 to 64 letters, digits and "+=,.@_-".
func policyIAMPathNameProblem(rest string) string {
	segs := strings.Split(rest, "/")
	name := segs[len(segs)-1]
	if name == "" || len(name) > 64 {
		return fmt.Sprintf("name %s must be 1 to 64 characters", policyQuote(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("+=,.@_-", c) >= 0 {
			continue
		}
		return fmt.Sprintf("name %s may hold only letters, digits and +=,.@_-", policyQuote(name))
	}
	if len(rest)-len(name)+1 > 512 {
		return "path is longer than 512 characters"
	}
	for _, seg := range segs[:len(segs)-1] {
		if seg == "" {
			return fmt.Sprintf("path in %s has an empty segment", policyQuote(rest))
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; c <= ' ' || c >= 0x7f || c == '*' || c == '?' {
				return fmt.Sprintf("path in %s may hold only printable ASCII without wildcards", policyQuote(rest))
			}
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// Evaluation

// Decision is the outcome of evaluating a policy for one request. The zero
// Decision is DecisionImplicitDeny.
type Decision int

// The possible decisions.
const (
	// DecisionImplicitDeny: no statement allows the request (and none denies it).
	DecisionImplicitDeny Decision = iota
	// DecisionAllow: a statement without conditions allows the request and no
	// statement denies it or might deny it.
	DecisionAllow
	// DecisionExplicitDeny: a Deny statement without conditions matches the
	// request; a Deny always wins.
	DecisionExplicitDeny
	// DecisionUndecided: the outcome depends on something this evaluator does
	// not decide, such as a condition, a NotPrincipal element or a policy
	// variable, in a statement that matches the request otherwise.
	DecisionUndecided
)

// String returns "implicit deny", "allow", "explicit deny" or "cannot decide",
// or "Decision(n)" for a value outside the constants.
func (d Decision) String() string {
	switch d {
	case DecisionImplicitDeny:
		return "implicit deny"
	case DecisionAllow:
		return "allow"
	case DecisionExplicitDeny:
		return "explicit deny"
	case DecisionUndecided:
		return "cannot decide"
	}
	return "Decision(" + strconv.Itoa(int(d)) + ")"
}

// Allows evaluates a resource-based policy, such as a queue policy, for one
// request: may principal perform action on resourceARN? It looks only at
// this one document; the principal's own identity policies, SCPs and
// permission boundaries are not considered (cross-account access needs those
// to allow too).
//
// Inputs: principal is a 12-digit account ID (the account root, in the
// resource's partition) or an IAM ARN arn:<partition>:iam::<account>:root,
// …:user/[path/]name or …:role/[path/]name; action is "<service>:<Action>"
// without wildcards; resourceARN is a full ARN without wildcards in the same
// partition as principal, with or without a region and account (a role,
// arn:<partition>:iam::<account>:role/<name>, for sts:AssumeRole against a
// trust policy). Invalid inputs or an invalid policy (see ParsePolicy) give
// DecisionUndecided and an error wrapping ErrInvalidPolicy.
//
// Matching:
//   - Principal "*" and {"AWS": "*"} match everyone. An AWS principal that is
//     an account ID or an account root ARN (arn:<partition>:iam::<account>:root)
//     matches every principal of that account, as AWS treats it in resource
//     policies: the root ARN delegates to the account. A user or role ARN
//     matches only that exact ARN (path included). An STS assumed-role
//     session of the asking role makes the statement undecided, as the
//     caller may or may not be that session. IAM unique IDs (which AWS shows
//     for deleted principals), service and federated principals never match;
//     a CanonicalUser principal makes the statement undecided. A statement
//     without Principal or NotPrincipal matches no one.
//   - In a Deny statement, NotPrincipal "*" matches no one; a NotPrincipal
//     that names neither the principal nor anything in its account matches
//     it; one that names the principal's account root together with the
//     principal itself (or the principal is that root) exempts it, as AWS
//     documents, and does not match it; anything else is undecided, because
//     AWS may check the account, the role and the session one by one. An
//     Allow statement with NotPrincipal is at best undecided.
//   - Actions match case-insensitively ("SQS:SendMessage" matches
//     "sqs:sendmessage"; "sqs:*" and "sqs:Send*" match too). Resources match
//     case-sensitively. In both, '*' matches any run of characters and '?'
//     one character. AWS documents resource wildcards as working within a
//     colon-separated segment, except that a '*' ending a segment may reach
//     past colons; where that reading and a plain match disagree, or the
//     pattern holds a policy variable such as ${aws:username} and could
//     match for some value of it, the statement is undecided. NotAction and
//     NotResource match what their patterns do not. A statement with neither
//     Resource nor NotResource (a trust policy's) matches every resource:
//     its resource is the one the policy is attached to.
//   - A statement with a Condition that matches otherwise is undecided
//     (AllowsRequest with a Context evaluates conditions).
//
// Combining: a matching unconditional Deny gives DecisionExplicitDeny; else an
// undecided Deny gives DecisionUndecided; else a matching unconditional Allow
// gives DecisionAllow; else an undecided Allow gives DecisionUndecided; else
// DecisionImplicitDeny. Matching takes time proportional to the product of a
// pattern's and the input's lengths, never exponential. Allows never panics
// and is safe for concurrent use.
func Allows(policyJSON []byte, principal, action, resourceARN string) (Decision, error) {
	return AllowsRequest(policyJSON, PolicyRequest{Principal: principal, Action: action, Resource: resourceARN})
}

// PolicyRequest is one request for AllowsRequest to evaluate a
// resource-based policy against. It is plain data, safe to copy; AllowsRequest
// does not modify it or keep it.
type PolicyRequest struct {
	// Principal is the caller: a 12-digit account ID or an IAM root, user or
	// role ARN, as for Allows.
	Principal string
	// Action is "<service>:<Action>" without wildcards, such as
	// "sqs:SendMessage" or "sts:AssumeRole".
	Action string
	// Resource is the ARN of the resource asked for, as for Allows, such as
	// a queue ARN or, for sts:AssumeRole, the role's ARN.
	Resource string
	// Context holds the request's condition keys and their values, such as
	// {"sts:ExternalId": "tenant-42"}. Nil means the context is unknown and
	// every statement with a Condition is undecided, as in Allows. A non-nil
	// Context (even empty) is the whole context: a key not in it is absent
	// from the request, so it must hold every key the request carries that
	// the policy tests (including global keys such as aws:PrincipalArn).
	// Key names compare case-insensitively, as in AWS; names that differ
	// only in case are an error. Each key has a single value.
	Context map[string]string
}

// AllowsRequest evaluates a resource-based policy for req the way Allows
// does, and in addition, when req.Context is not nil, evaluates conditions
// as AWS does:
//
//   - The operators StringEquals, StringNotEquals, StringEqualsIgnoreCase,
//     StringNotEqualsIgnoreCase, StringLike, StringNotLike, ArnEquals,
//     ArnLike, ArnNotEquals and ArnNotLike, and their …IfExists forms, are
//     evaluated; operator names are case-sensitive. StringEquals compares
//     exactly, …IgnoreCase with Unicode case folding, StringLike with '*'
//     (any run of characters) and '?' (one character); ArnEquals and ArnLike
//     (which AWS treats alike) compare each of the six colon-separated parts
//     of the ARN with those wildcards, and a context value that is not an
//     ARN does not match.
//   - In one operator, multiple values of a key are OR'ed (NOR'ed for the
//     …Not… operators); multiple keys and multiple operators are AND'ed.
//   - A key absent from Context makes the condition false, except that an
//     …IfExists operator is then true, and a …Not… operator is true too
//     (AWS: a negated condition on a missing key is satisfied).
//   - Any other operator (Bool, Numeric…, Date…, IpAddress, Null, the
//     ForAnyValue: and ForAllValues: set operators, …) and any value holding
//     a policy variable (${…}) or an ArnLike pattern that is not an ARN is
//     undecided. A condition that is false whatever the undecided parts
//     give, because another part of it is false, is false.
//
// A statement whose condition is true matches as if it had none; false, it
// does not match; undecided, it is undecided. Combining is as for Allows.
// Errors are as for Allows, plus an error wrapping ErrInvalidPolicy for
// Context keys that are empty or differ only in case. AllowsRequest never
// panics and is safe for concurrent use (req.Context must not be modified
// meanwhile).
//
// For example, a trust policy from TrustPolicy(server, id) gives
// DecisionAllow for PolicyRequest{Principal: server, Action:
// "sts:AssumeRole", Resource: roleARN, Context: map[string]string{
// "sts:ExternalId": id}}, and DecisionImplicitDeny for another principal,
// another ExternalId or none.
func AllowsRequest(policyJSON []byte, req PolicyRequest) (Decision, error) {
	doc, err := ParsePolicy(policyJSON)
	if err != nil {
		return DecisionUndecided, err
	}
	partition, err := policyCheckRequest(req.Action, req.Resource)
	if err != nil {
		return DecisionUndecided, err
	}
	pr, problem := policyParseIAMPrincipal(req.Principal)
	if problem != "" {
		return DecisionUndecided, policyErrorf("principal %s: %s", policyQuote(req.Principal), problem)
	}
	switch {
	case pr.partition == "":
		pr.partition = partition
		pr.arn = "arn:" + partition + ":iam::" + pr.account + ":root"
	case pr.partition != partition:
		return DecisionUndecided, policyErrorf("principal %s is in partition %s but the resource is in partition %s",
			policyQuote(req.Principal), pr.partition, partition)
	}
	ctx, err := policyRequestContext(req.Context)
	if err != nil {
		return DecisionUndecided, err
	}
	return policyEvaluate(doc, &pr, req.Action, req.Resource, ctx), nil
}

// policyRequestContext returns the request context with lowercased keys, nil
// for a nil context.
func policyRequestContext(c map[string]string) (map[string]string, error) {
	if c == nil {
		return nil, nil
	}
	out := make(map[string]string, len(c))
	for _, k := range slices.Sorted(maps.Keys(c)) {
		if k == "" {
			return nil, policyErrorf("request context has an empty key name")
		}
		lk := strings.ToLower(k)
		if _, dup := out[lk]; dup {
			return nil, policyErrorf("request context has keys that differ only in case (%s); AWS compares key names case-insensitively", policyQuote(k))
		}
		out[lk] = c[k]
	}
	return out, nil
}

// IdentityAllows evaluates an identity-based policy, such as the one
// PermissionPolicy builds, for one request: does it let its holder perform
// action on resourceARN? Statements must not have Principal or NotPrincipal.
// Inputs, matching and combining are as for Allows, without the principal.
// Invalid inputs or an invalid policy give DecisionUndecided and an error
// wrapping ErrInvalidPolicy. IdentityAllows never panics and is safe for
// concurrent use.
func IdentityAllows(policyJSON []byte, action, resourceARN string) (Decision, error) {
	doc, err := ParsePolicy(policyJSON)
	if err != nil {
		return DecisionUndecided, err
	}
	for i, st := range doc.Statement {
		if st.Principal != nil || st.NotPrincipal != nil {
			return DecisionUndecided, policyErrorf("Statement[%d]: an identity-based policy has no Principal or NotPrincipal", i)
		}
	}
	if _, err := policyCheckRequest(action, resourceARN); err != nil {
		return DecisionUndecided, err
	}
	return policyEvaluate(doc, nil, action, resourceARN, nil), nil
}

// policyCheckRequest validates the action and resource of a request and
// returns the resource's partition.
func policyCheckRequest(action, resourceARN string) (string, error) {
	svc, name, ok := strings.Cut(action, ":")
	if !ok || svc == "" || name == "" || len(action) > 256 ||
		strings.IndexFunc(svc, func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-')
		}) >= 0 ||
		strings.IndexFunc(name, func(c rune) bool { return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') }) >= 0 {
		return "", policyErrorf("action %s is not <service>:<Action> (letters and digits, no wildcards)", policyQuote(action))
	}
	bad := func(why string) (string, error) {
		return "", policyErrorf("resource ARN %s: %s", policyQuote(resourceARN), why)
	}
	if len(resourceARN) > policyMaxURL {
		return bad(fmt.Sprintf("is longer than %d bytes", policyMaxURL))
	}
	if strings.ContainsFunc(resourceARN, func(c rune) bool { return c < 0x20 || c == 0x7f }) || !utf8.ValidString(resourceARN) {
		return bad("has control characters or invalid UTF-8")
	}
	if strings.ContainsAny(resourceARN, "*?") {
		return bad("a request names one resource; wildcards are not allowed")
	}
	f := strings.SplitN(resourceARN, ":", 6)
	if len(f) != 6 || f[0] != "arn" {
		return bad("is not an ARN (arn:<partition>:<service>:<region>:<account-id>:<resource>)")
	}
	if !policyKnownPartition(f[1]) {
		return bad(fmt.Sprintf("partition %s is not a known AWS partition", policyQuote(f[1])))
	}
	if f[2] == "" || strings.IndexFunc(f[2], func(c rune) bool { return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') }) >= 0 {
		return bad(fmt.Sprintf("service %s is not a service name", policyQuote(f[2])))
	}
	if f[3] != "" && !policyValidRegion(f[3]) {
		return bad(fmt.Sprintf("region %s is not a valid AWS region name", policyQuote(f[3])))
	}
	if f[4] != "" && !policyIsAccountID(f[4]) {
		return bad(fmt.Sprintf("account ID %s is not 12 digits", policyQuote(f[4])))
	}
	if f[5] == "" {
		return bad("has an empty resource part")
	}
	return f[1], nil
}

// policyMatch is a three-valued match result, ordered so that "and" is the
// minimum and "or" the maximum.
type policyMatch int

const (
	policyNo policyMatch = iota
	policyMaybe
	policyYes
)

func (m policyMatch) not() policyMatch { return policyYes - m }

// policyEvaluate evaluates doc for one request. ctx is the request context
// with lowercased keys, or nil when it is unknown.
func policyEvaluate(doc PolicyDocument, pr *policyIAMPrincipal, action, resource string, ctx map[string]string) Decision {
	var denyYes, denyMaybe, allowYes, allowMaybe bool
	for i := range doc.Statement {
		st := &doc.Statement[i]
		m := policyStatementMatch(st, pr, action, resource, ctx)
		switch {
		case m == policyNo:
		case st.Effect == "Deny" && m == policyYes:
			denyYes = true
		case st.Effect == "Deny":
			denyMaybe = true
		case m == policyYes:
			allowYes = true
		default:
			allowMaybe = true
		}
	}
	switch {
	case denyYes:
		return DecisionExplicitDeny
	case denyMaybe:
		return DecisionUndecided
	case allowYes:
		return DecisionAllow
	case allowMaybe:
		return DecisionUndecided
	}
	return DecisionImplicitDeny
}

// policyStatementMatch reports whether st applies to the request. pr is nil
// for an identity-based policy; ctx is nil when the context is unknown.
func policyStatementMatch(st *Statement, pr *policyIAMPrincipal, action, resource string, ctx map[string]string) policyMatch {
	m := policyYes
	if pr != nil {
		switch {
		case st.Principal != nil:
			m = policyPrincipalMatch(st.Principal, pr)
		case st.NotPrincipal != nil:
			m = policyNotPrincipalMatch(st.NotPrincipal, pr)
			if st.Effect == "Allow" {
				// AWS discourages and increasingly rejects NotPrincipal with
				// Allow; do not vouch for what it grants.
				m = min(m, policyMaybe)
			}
		default:
			return policyNo
		}
		if m == policyNo {
			return policyNo
		}
	}
	if len(st.Action) > 0 {
		m = min(m, policyAnyAction(st.Action, action))
	} else {
		m = min(m, policyAnyAction(st.NotAction, action).not())
	}
	if m == policyNo {
		return policyNo
	}
	switch {
	case len(st.Resource) > 0:
		m = min(m, policyAnyResource(st.Resource, resource))
	case len(st.NotResource) > 0:
		m = min(m, policyAnyResource(st.NotResource, resource).not())
	default:
		// No Resource (a trust policy): the policy's own resource.
	}
	if m != policyNo && len(st.Condition) > 0 {
		m = min(m, policyConditionMatch(st.Condition, ctx))
	}
	return m
}

// policyConditionMatch evaluates a Condition element against ctx (lowercased
// keys; nil: unknown, so undecided). Operators are AND'ed.
func policyConditionMatch(cond map[string]map[string]StringList, ctx map[string]string) policyMatch {
	if ctx == nil {
		return policyMaybe
	}
	m := policyYes
	for op, keys := range cond {
		if m = min(m, policyOperatorMatch(op, keys, ctx)); m == policyNo {
			return policyNo
		}
	}
	return m
}

// policyOperatorMatch evaluates one condition operator with its keys (AND'ed)
// and their values (OR'ed, or NOR'ed for a negated operator).
func policyOperatorMatch(op string, keys map[string]StringList, ctx map[string]string) policyMatch {
	base, ifExists := strings.CutSuffix(op, "IfExists")
	var match func(pattern, value string) policyMatch
	switch base {
	case "StringEquals", "StringNotEquals":
		match = func(p, v string) policyMatch { return policyBool(p == v) }
	case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
		match = func(p, v string) policyMatch { return policyBool(strings.EqualFold(p, v)) }
	case "StringLike", "StringNotLike":
		match = func(p, v string) policyMatch { return policyBool(policyGlob(p, v, false)) }
	case "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike":
		match = policyARNConditionMatch
	default:
		return policyMaybe // an operator this evaluator does not decide
	}
	negated := strings.Contains(base, "Not")
	m := policyYes
	for key, patterns := range keys {
		v, present := ctx[strings.ToLower(key)]
		km := policyBool(ifExists || negated) // the key is absent
		if present {
			km = policyNo
			for _, p := range patterns {
				pm := policyMaybe
				if !strings.Contains(p, "${") {
					pm = match(p, v)
				}
				if km = max(km, pm); km == policyYes {
					break
				}
			}
			if negated {
				km = km.not()
			}
		}
		if m = min(m, km); m == policyNo {
			return policyNo
		}
	}
	return m
}

// policyARNConditionMatch matches an ArnEquals/ArnLike pattern against an
// ARN part by part. A pattern that is not an ARN (such as "*") is undecided;
// a value that is not an ARN does not match.
func policyARNConditionMatch(pattern, value string) policyMatch {
	pf := strings.SplitN(pattern, ":", 6)
	if len(pf) != 6 {
		return policyMaybe
	}
	vf := strings.SplitN(value, ":", 6)
	if len(vf) != 6 {
		return policyNo
	}
	for i := range pf {
		if !policyGlob(pf[i], vf[i], false) {
			return policyNo
		}
	}
	return policyYes
}

func policyBool(b bool) policyMatch {
	if b {
		return policyYes
	}
	return policyNo
}

func policyPrincipalMatch(p *Principal, pr *policyIAMPrincipal) policyMatch {
	if p.All {
		return policyYes
	}
	maybe := len(p.CanonicalUser) > 0 // a canonical user ID may stand for the account
	for _, v := range p.AWS {
		switch {
		case v == "*":
			return policyYes
		case policyIsAccountID(v):
			if v == pr.account {
				return policyYes
			}
		case strings.HasPrefix(v, "arn:"):
			q, problem := policyParseIAMPrincipal(v)
			if problem == "" && q.partition == pr.partition && q.account == pr.account && (q.root || q.arn == pr.arn) {
				return policyYes
			}
			if pr.roleName != "" && policyIsSessionOf(v, pr) {
				maybe = true // one session of the role is allowed; is it the caller?
			}
		}
		// Unique IDs stand for deleted principals: they match no one.
	}
	if maybe {
		return policyMaybe
	}
	return policyNo
}

// policyIsSessionOf reports whether v is an STS assumed-role ARN for a
// session of the role pr.
func policyIsSessionOf(v string, pr *policyIAMPrincipal) bool {
	f := strings.SplitN(v, ":", 6)
	if len(f) != 6 || f[1] != pr.partition || f[2] != "sts" || f[4] != pr.account {
		return false
	}
	parts := strings.Split(f[5], "/")
	return len(parts) == 3 && parts[0] == "assumed-role" && parts[1] == pr.roleName
}

func policyNotPrincipalMatch(p *Principal, pr *policyIAMPrincipal) policyMatch {
	if p.All || policyListHas(p.AWS, "*") {
		return policyNo // excludes everyone
	}
	accountListed, selfListed, related := false, false, len(p.CanonicalUser) > 0
	for _, v := range p.AWS {
		if policyIsAccountID(v) {
			if v == pr.account {
				accountListed = true
			}
			continue
		}
		f := strings.SplitN(v, ":", 6)
		if len(f) != 6 || f[1] != pr.partition || f[4] != pr.account {
			continue
		}
		related = true
		if q, problem := policyParseIAMPrincipal(v); problem == "" {
			if q.root {
				accountListed = true
			} else if q.arn == pr.arn {
				selfListed = true
			}
		}
	}
	switch {
	case accountListed && (pr.root || selfListed):
		// The documented way to exempt a principal: list it and its account.
		return policyNo
	case accountListed || related:
		// AWS may check the account, the role and the session one by one;
		// whether this principal is exempt depends on details not modelled.
		return policyMaybe
	}
	return policyYes
}

func policyListHas(l StringList, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func policyAnyAction(patterns StringList, action string) policyMatch {
	a := strings.ToLower(action)
	for _, p := range patterns {
		if policyGlob(strings.ToLower(p), a, false) {
			return policyYes
		}
	}
	return policyNo
}

func policyAnyResource(patterns StringList, resource string) policyMatch {
	best := policyNo
	for _, p := range patterns {
		if m := policyResourceMatch(p, resource); m > best {
			best = m
			if best == policyYes {
				break
			}
		}
	}
	return best
}

func policyResourceMatch(pattern, resource string) policyMatch {
	if pattern == "*" {
		return policyYes
	}
	if strings.Contains(pattern, "${") {
		// A policy variable: its value is not known here. If the pattern
		// cannot match whatever the variables hold, it does not match.
		if !policyGlob(policyVarsToStar(pattern), resource, false) {
			return policyNo
		}
		return policyMaybe
	}
	loose := policyGlob(pattern, resource, false)
	if !loose {
		return policyNo
	}
	if policyGlob(pattern, resource, true) {
		return policyYes
	}
	return policyMaybe
}

// policyVarsToStar replaces each policy variable ${…} in pattern with '*'.
func policyVarsToStar(pattern string) string {
	var b strings.Builder
	for {
		i := strings.Index(pattern, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(pattern[i:], '}')
		if j < 0 {
			break
		}
		b.WriteString(pattern[:i])
		b.WriteByte('*')
		pattern = pattern[i+j+1:]
	}
	b.WriteString(pattern)
	return b.String()
}

// policyGlob reports whether s matches pattern, where '*' matches any run of
// characters and '?' exactly one. With segments set, wildcards do not match
// ':' except a '*' that ends a colon-separated segment of the pattern (is
// followed by ':' or ends it).
//
// It simulates the pattern as a finite automaton over s, so it takes
// O(len(pattern) × len(s)) time whatever the pattern, with no backtracking.
func policyGlob(pattern, s string, segments bool) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	p := []rune(pattern)
	m := len(p)
	cur := make([]bool, m+1)
	next := make([]bool, m+1)
	cur[0] = true
	policyGlobClose(p, cur)
	for _, c := range s {
		clear(next)
		alive := false
		for j := 0; j < m; j++ {
			if !cur[j] {
				continue
			}
			switch p[j] {
			case '*':
				if !segments || c != ':' || j+1 == m || p[j+1] == ':' {
					next[j] = true
					alive = true
				}
			case '?':
				if !segments || c != ':' {
					next[j+1] = true
					alive = true
				}
			default:
				if p[j] == c {
					next[j+1] = true
					alive = true
				}
			}
		}
		if !alive {
			return false
		}
		policyGlobClose(p, next)
		cur, next = next, cur
	}
	return cur[m]
}

// policyGlobClose adds the states reachable by letting '*' match nothing.
func policyGlobClose(p []rune, states []bool) {
	for j := 0; j < len(p); j++ {
		if states[j] && p[j] == '*' {
			states[j+1] = true
		}
	}
}
