// policyeval.go is a small, conservative IAM policy evaluator: Allows,
// AllowsRequest and IdentityAllows answer "would this policy let that
// principal send (or assume the role)?" without calling AWS.

package sqshook

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	awsarn "github.com/aws/aws-sdk-go-v2/aws/arn"
)

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
//     for deleted principals) never match in an Allow; in a Deny they, and
//     ARNs of the principal's account that cannot be read as a user, role
//     or root, make the statement undecided, since they may stand for the
//     principal (a Deny that cannot be ruled out never gives Allow).
//     Service and federated principals never match;
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
	a, err := awsarn.Parse(resourceARN)
	if err != nil {
		return bad("is not an ARN (arn:<partition>:<service>:<region>:<account-id>:<resource>)")
	}
	f := arnFields(a)
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
			m = policyPrincipalMatch(st.Principal, pr, st.Effect != "Allow")
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
	// Not awsarn.Parse: every section of a pattern, the first included, may
	// hold wildcards, and the value is matched section by section against it.
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

// policyPrincipalMatch matches a Principal element. In a Deny (deny true),
// an AWS principal this evaluator cannot compare with pr (an IAM unique id
// such as AROA… or AIDA…, or an ARN of pr's account it cannot read) may be
// pr, so it is undecided: a Deny that might apply must never let the answer
// be Allow. In an Allow such a principal matches no one.
func policyPrincipalMatch(p *Principal, pr *policyIAMPrincipal, deny bool) policyMatch {
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
			if deny && problem != "" && policyARNAccount(v) == pr.account {
				maybe = true
			}
		default:
			// A unique id usually stands for a deleted principal, but
			// which one cannot be told from here: it matches no one in an
			// Allow and may be the caller in a Deny.
			if deny {
				maybe = true
			}
		}
	}
	if maybe {
		return policyMaybe
	}
	return policyNo
}

// policyARNAccount returns the account field of an ARN, or "".
func policyARNAccount(v string) string {
	a, err := awsarn.Parse(v)
	if err != nil {
		return ""
	}
	return a.AccountID
}

// policyIsSessionOf reports whether v is an STS assumed-role ARN for a
// session of the role pr.
func policyIsSessionOf(v string, pr *policyIAMPrincipal) bool {
	a, err := awsarn.Parse(v)
	if err != nil || a.Partition != pr.partition || a.Service != "sts" || a.AccountID != pr.account {
		return false
	}
	parts := strings.Split(a.Resource, "/")
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
		a, err := awsarn.Parse(v)
		if err != nil || a.Partition != pr.partition || a.AccountID != pr.account {
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
