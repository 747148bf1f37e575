// queueurl.go parses Amazon SQS queue URLs and queue ARNs: partitions,
// regions, account IDs, queue names and VPC endpoint hosts.

package sqshook

import (
	"fmt"
	"strconv"
	"strings"

	awsarn "github.com/aws/aws-sdk-go-v2/aws/arn"
)

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
	// The '@' is looked for before the authority is cut at the first '/',
	// '?' or '#': a password may hold those (AWS secret keys often hold
	// '/'), and cutting first would leave it in sight. The last '@' is taken,
	// so whatever precedes it is hidden, even when the '@' is not where a
	// URL parser would put the end of the user information.
	rest := raw[i+3:]
	at := strings.LastIndexByte(rest, '@')
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
	if strings.ContainsRune(rest, '@') {
		// Before the other checks: user information may hold '/', '?',
		// '#' or ':', which would otherwise be taken for a path, a query,
		// a fragment or a port.
		return QueueURL{}, "has user information (…@) or an '@'; a queue URL has none"
	}
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

// arnFields returns an ARN's sections by position, f[1] the partition to f[5]
// the resource, as in the ARN's text (f[0] is always "arn").
func arnFields(a awsarn.ARN) [6]string {
	return [6]string{"arn", a.Partition, a.Service, a.Region, a.AccountID, a.Resource}
}
