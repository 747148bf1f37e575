// policy.go builds the IAM policy documents a customer attaches to a queue,
// to the sender's identity or to the role the server assumes (its trust
// policy).

package sqshook

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	awsarn "github.com/aws/aws-sdk-go-v2/aws/arn"
)

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
	if a, err := awsarn.Parse(principal); err == nil && a.Service == "sts" {
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
	a, err := awsarn.Parse(arn)
	if err != nil {
		return Statement{}, "is not an ARN; " + shape
	}
	f := arnFields(a)
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
	a, err := awsarn.Parse(s)
	if err != nil {
		return "is not an ARN (arn:<partition>:<service>:<region>:<account-id>:<resource>)"
	}
	f := arnFields(a)
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
	a, err := awsarn.Parse(s)
	if err != nil {
		return policyIAMPrincipal{}, policyPrincipalShape
	}
	f := arnFields(a)
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
