// policyeval_test.go tests the policy evaluator: Allows, AllowsRequest,
// IdentityAllows and the pattern matching behind them.

package sqshook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecisionString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    Decision
		want string
	}{
		{DecisionImplicitDeny, "implicit deny"},
		{DecisionAllow, "allow"},
		{DecisionExplicitDeny, "explicit deny"},
		{DecisionUndecided, "cannot decide"},
		{Decision(9), "Decision(9)"},
		{Decision(-1), "Decision(-1)"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("Decision(%d).String(): got %q, want %q", int(tt.d), got, tt.want)
		}
	}
	var zero Decision
	if zero != DecisionImplicitDeny {
		t.Errorf("zero Decision: got %v, want %v", zero, DecisionImplicitDeny)
	}
}

func TestAllows(t *testing.T) {
	t.Parallel()
	const (
		send  = "sqs:SendMessage"
		queue = policyTestQueueARN
	)
	allow := func(principal, action, resource string) string {
		return `{"Effect":"Allow","Principal":` + principal + `,"Action":` + action + `,"Resource":` + resource + `}`
	}
	tests := []struct {
		name      string
		policy    []byte
		principal string
		action    string
		resource  string
		want      Decision
	}{
		// The Stream statement and account-root delegation.
		{"stream: account root", policyDoc(policyStreamStatement), policyTestRoot, send, queue, DecisionAllow},
		{"stream: bare account ID", policyDoc(policyStreamStatement), policyTestAccount, send, queue, DecisionAllow},
		{"stream: user of the account", policyDoc(policyStreamStatement), policyTestUser, send, queue, DecisionAllow},
		{"stream: role with path of the account", policyDoc(policyStreamStatement), policyTestRole, send, queue, DecisionAllow},
		{"stream: other account", policyDoc(policyStreamStatement), policyTestOther, send, queue, DecisionImplicitDeny},
		{"stream: other partition", policyDoc(policyStreamStatement),
			"arn:aws-cn:iam::185583345998:root", send, "arn:aws-cn:sqs:cn-north-1:111122223333:events", DecisionImplicitDeny},
		{"stream: other queue", policyDoc(policyStreamStatement), policyTestUser, send, "arn:aws:sqs:us-east-1:111122223333:other", DecisionImplicitDeny},
		{"stream: other action", policyDoc(policyStreamStatement), policyTestUser, "sqs:SendMessageBatch", queue, DecisionImplicitDeny},
		{"stream: action in other case", policyDoc(policyStreamStatement), policyTestUser, "sqs:sendmessage", queue, DecisionAllow},
		{"stream: action upper case", policyDoc(policyStreamStatement), policyTestUser, "SQS:SENDMESSAGE", queue, DecisionAllow},
		{"policy account ID matches a user", policyDoc(allow(`{"AWS":"185583345998"}`, `"sqs:SendMessage"`, `"`+queue+`"`)), policyTestUser, send, queue, DecisionAllow},

		// Exact user and role principals.
		{"user: same user", policyDoc(allow(`{"AWS":"`+policyTestUser+`"}`, `"sqs:SendMessage"`, `"*"`)), policyTestUser, send, queue, DecisionAllow},
		{"user: other user of the account", policyDoc(allow(`{"AWS":"`+policyTestUser+`"}`, `"sqs:SendMessage"`, `"*"`)),
			"arn:aws:iam::185583345998:user/other", send, queue, DecisionImplicitDeny},
		{"user: account root is not the user", policyDoc(allow(`{"AWS":"`+policyTestUser+`"}`, `"sqs:SendMessage"`, `"*"`)), policyTestAccount, send, queue, DecisionImplicitDeny},
		{"role: same role", policyDoc(allow(`{"AWS":"`+policyTestRole+`"}`, `"sqs:SendMessage"`, `"*"`)), policyTestRole, send, queue, DecisionAllow},
		{"role: path differs", policyDoc(allow(`{"AWS":"arn:aws:iam::185583345998:role/sender"}`, `"sqs:SendMessage"`, `"*"`)), policyTestRole, send, queue, DecisionImplicitDeny},
		{"principal list", policyDoc(allow(`{"AWS":["`+policyTestOther+`","185583345998"]}`, `"sqs:SendMessage"`, `"*"`)), policyTestUser, send, queue, DecisionAllow},

		// Everyone, and principals that are not IAM principals.
		{"principal star", policyDoc(allow(`"*"`, `"sqs:SendMessage"`, `"*"`)), policyTestOther, send, queue, DecisionAllow},
		{"principal AWS star", policyDoc(allow(`{"AWS":"*"}`, `"sqs:SendMessage"`, `"*"`)), policyTestOther, send, queue, DecisionAllow},
		{"service principal", policyDoc(allow(`{"Service":"sns.amazonaws.com"}`, `"sqs:SendMessage"`, `"*"`)), policyTestRoot, send, queue, DecisionImplicitDeny},
		{"federated principal", policyDoc(allow(`{"Federated":"cognito-identity.amazonaws.com"}`, `"sqs:SendMessage"`, `"*"`)), policyTestRoot, send, queue, DecisionImplicitDeny},
		{"canonical user principal", policyDoc(allow(`{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}`, `"sqs:SendMessage"`, `"*"`)),
			policyTestRoot, send, queue, DecisionUndecided},
		{"unique ID principal", policyDoc(allow(`{"AWS":"AIDAJQABLZS4A3QDU576Q"}`, `"sqs:SendMessage"`, `"*"`)), policyTestUser, send, queue, DecisionImplicitDeny},
		{"STS session of the role", policyDoc(allow(`{"AWS":"arn:aws:sts::185583345998:assumed-role/sender/s1"}`, `"sqs:SendMessage"`, `"*"`)),
			policyTestRole, send, queue, DecisionUndecided},
		{"STS session of another role", policyDoc(allow(`{"AWS":"arn:aws:sts::185583345998:assumed-role/other/s1"}`, `"sqs:SendMessage"`, `"*"`)),
			policyTestRole, send, queue, DecisionImplicitDeny},
		{"STS session, user asks", policyDoc(allow(`{"AWS":"arn:aws:sts::185583345998:assumed-role/sender/s1"}`, `"sqs:SendMessage"`, `"*"`)),
			policyTestUser, send, queue, DecisionImplicitDeny},
		{"no Principal in a resource policy", policyDoc(`{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}`), policyTestRoot, send, queue, DecisionImplicitDeny},

		// Action wildcards.
		{"action sqs:*", policyDoc(allow(`"*"`, `"sqs:*"`, `"*"`)), policyTestUser, send, queue, DecisionAllow},
		{"action star", policyDoc(allow(`"*"`, `"*"`, `"*"`)), policyTestUser, send, queue, DecisionAllow},
		{"action sqs:Send* batch", policyDoc(allow(`"*"`, `"sqs:Send*"`, `"*"`)), policyTestUser, "sqs:SendMessageBatch", queue, DecisionAllow},
		{"action sqs:send* other case", policyDoc(allow(`"*"`, `"SQS:send*"`, `"*"`)), policyTestUser, send, queue, DecisionAllow},
		{"action sqs:Send* receive", policyDoc(allow(`"*"`, `"sqs:Send*"`, `"*"`)), policyTestUser, "sqs:ReceiveMessage", queue, DecisionImplicitDeny},
		{"action question mark", policyDoc(allow(`"*"`, `"sqs:SendMessag?"`, `"*"`)), policyTestUser, send, queue, DecisionAllow},
		{"action question mark needs a character", policyDoc(allow(`"*"`, `"sqs:SendMessage?"`, `"*"`)), policyTestUser, send, queue, DecisionImplicitDeny},
		{"action other service", policyDoc(allow(`"*"`, `"sns:*"`, `"*"`)), policyTestUser, send, queue, DecisionImplicitDeny},
		{"action list", policyDoc(allow(`"*"`, `["sqs:ReceiveMessage","sqs:SendMessage"]`, `"*"`)), policyTestUser, send, queue, DecisionAllow},

		// Resource wildcards and case.
		{"resource any region and queue", policyDoc(allow(`"*"`, `"sqs:*"`, `"arn:aws:sqs:*:111122223333:*"`)), policyTestUser, send, queue, DecisionAllow},
		{"resource prefix", policyDoc(allow(`"*"`, `"sqs:*"`, `"arn:aws:sqs:us-east-1:111122223333:ev*"`)), policyTestUser, send, queue, DecisionAllow},
		{"resource question mark", policyDoc(allow(`"*"`, `"sqs:*"`, `"arn:aws:sqs:us-east-1:111122223333:event?"`)), policyTestUser, send, queue, DecisionAllow},
		{"resource is case-sensitive", policyDoc(allow(`"*"`, `"sqs:*"`, `"arn:aws:sqs:us-east-1:111122223333:Events"`)), policyTestUser, send, queue, DecisionImplicitDeny},
		{"resource other account", policyDoc(allow(`"*"`, `"sqs:*"`, `"arn:aws:sqs:*:444455556666:*"`)), policyTestUser, send, queue, DecisionImplicitDeny},
		{"resource list", policyDoc(allow(`"*"`, `"sqs:*"`, `["arn:aws:sqs:us-east-1:111122223333:a","`+queue+`"]`)), policyTestUser, send, queue, DecisionAllow},
		{"resource wildcard inside a segment reaching past a colon is ambiguous", policyDoc(allow(`"*"`, `"logs:*"`, `"arn:aws:logs:us-east-1:111122223333:log*name"`)),
			policyTestUser, "logs:PutLogEvents", "arn:aws:logs:us-east-1:111122223333:log-group:name", DecisionUndecided},
		{"resource star ending a segment crosses colons", policyDoc(allow(`"*"`, `"logs:*"`, `"arn:aws:logs:us-east-1:111122223333:log-*:name"`)),
			policyTestUser, "logs:PutLogEvents", "arn:aws:logs:us-east-1:111122223333:log-group:x:name", DecisionAllow},
		{"resource trailing star crosses colons", policyDoc(allow(`"*"`, `"logs:*"`, `"arn:aws:logs:us-east-1:111122223333:*"`)),
			policyTestUser, "logs:PutLogEvents", "arn:aws:logs:us-east-1:111122223333:log-group:name", DecisionAllow},
		{"resource policy variable", policyDoc(allow(`"*"`, `"sqs:*"`, `"arn:aws:sqs:us-east-1:111122223333:${aws:username}"`)), policyTestUser, send, queue, DecisionUndecided},
		{"resource policy variable that cannot match", policyDoc(allow(`"*"`, `"sqs:*"`, `"arn:aws:sqs:us-east-1:444455556666:${aws:username}"`)), policyTestUser, send, queue, DecisionImplicitDeny},

		// Deny wins.
		{"deny beats allow", policyDoc(policyAllowAll, `{"Effect":"Deny","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}`), policyTestUser, send, queue, DecisionExplicitDeny},
		{"deny before allow", policyDoc(`{"Effect":"Deny","Principal":{"AWS":"185583345998"},"Action":"sqs:*","Resource":"*"}`, policyStreamStatement), policyTestUser, send, queue, DecisionExplicitDeny},
		{"deny for another principal", policyDoc(policyStreamStatement, `{"Effect":"Deny","Principal":{"AWS":"`+policyTestOther+`"},"Action":"sqs:*","Resource":"*"}`), policyTestUser, send, queue, DecisionAllow},
		{"deny for another action", policyDoc(policyStreamStatement, `{"Effect":"Deny","Principal":"*","Action":"sqs:DeleteQueue","Resource":"*"}`), policyTestUser, send, queue, DecisionAllow},
		{"deny alone", policyDoc(`{"Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*"}`), policyTestUser, send, queue, DecisionExplicitDeny},
		{"nothing matches", policyDoc(`{"Effect":"Allow","Principal":"*","Action":"sqs:ReceiveMessage","Resource":"*"}`), policyTestUser, send, queue, DecisionImplicitDeny},

		// Conditions are not evaluated.
		{"conditional allow", policyDoc(`{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"185583345998"}}}`),
			policyTestUser, send, queue, DecisionUndecided},
		{"conditional allow and plain allow", policyDoc(policyStreamStatement, `{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}`),
			policyTestUser, send, queue, DecisionAllow},
		{"conditional allow that does not apply", policyDoc(`{"Effect":"Allow","Principal":{"AWS":"` + policyTestOther + `"},"Action":"sqs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}`),
			policyTestUser, send, queue, DecisionImplicitDeny},
		{"conditional deny and allow", policyDoc(policyStreamStatement, `{"Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`),
			policyTestUser, send, queue, DecisionUndecided},
		{"conditional deny and plain deny", policyDoc(policyStreamStatement,
			`{"Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`,
			`{"Effect":"Deny","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}`),
			policyTestUser, send, queue, DecisionExplicitDeny},
		{"conditional deny that does not apply", policyDoc(policyStreamStatement, `{"Effect":"Deny","Principal":"*","Action":"sqs:DeleteQueue","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`),
			policyTestUser, send, queue, DecisionAllow},

		// NotAction and NotResource.
		{"NotAction allows the rest", policyDoc(`{"Effect":"Allow","Principal":"*","NotAction":"sqs:DeleteQueue","Resource":"*"}`), policyTestUser, send, queue, DecisionAllow},
		{"NotAction excludes the action", policyDoc(`{"Effect":"Allow","Principal":"*","NotAction":["sqs:Send*"],"Resource":"*"}`), policyTestUser, send, queue, DecisionImplicitDeny},
		{"NotResource deny elsewhere", policyDoc(policyAllowAll, `{"Effect":"Deny","Principal":"*","Action":"sqs:*","NotResource":"`+queue+`"}`),
			policyTestUser, send, queue, DecisionAllow},
		{"NotResource deny here", policyDoc(policyAllowAll, `{"Effect":"Deny","Principal":"*","Action":"sqs:*","NotResource":"`+queue+`"}`),
			policyTestUser, send, "arn:aws:sqs:us-east-1:111122223333:other", DecisionExplicitDeny},
		{"NotResource ambiguous pattern", policyDoc(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`,
			`{"Effect":"Deny","Principal":"*","Action":"*","NotResource":"arn:aws:logs:us-east-1:111122223333:log*name"}`),
			policyTestUser, "logs:PutLogEvents", "arn:aws:logs:us-east-1:111122223333:log-group:name", DecisionUndecided},

		// NotPrincipal.
		{"NotPrincipal names someone else", policyDoc(policyAllowAll, `{"Effect":"Deny","NotPrincipal":{"AWS":"`+policyTestOther+`"},"Action":"sqs:*","Resource":"*"}`),
			policyTestUser, send, queue, DecisionExplicitDeny},
		{"NotPrincipal names the user and its account", policyDoc(policyAllowAll, `{"Effect":"Deny","NotPrincipal":{"AWS":["`+policyTestUser+`","`+policyTestRoot+`"]},"Action":"sqs:*","Resource":"*"}`),
			policyTestUser, send, queue, DecisionAllow},
		{"NotPrincipal names the user only", policyDoc(policyAllowAll, `{"Effect":"Deny","NotPrincipal":{"AWS":"`+policyTestUser+`"},"Action":"sqs:*","Resource":"*"}`),
			policyTestUser, send, queue, DecisionUndecided},
		{"NotPrincipal names the account only, user asks", policyDoc(policyAllowAll, `{"Effect":"Deny","NotPrincipal":{"AWS":"185583345998"},"Action":"sqs:*","Resource":"*"}`),
			policyTestUser, send, queue, DecisionUndecided},
		{"NotPrincipal names the account, root asks", policyDoc(policyAllowAll, `{"Effect":"Deny","NotPrincipal":{"AWS":"`+policyTestRoot+`"},"Action":"sqs:*","Resource":"*"}`),
			policyTestAccount, send, queue, DecisionAllow},
		{"NotPrincipal names another user of the account", policyDoc(policyAllowAll, `{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::185583345998:user/x"},"Action":"sqs:*","Resource":"*"}`),
			policyTestUser, send, queue, DecisionUndecided},
		{"NotPrincipal star excludes everyone", policyDoc(policyAllowAll, `{"Effect":"Deny","NotPrincipal":"*","Action":"sqs:*","Resource":"*"}`),
			policyTestUser, send, queue, DecisionAllow},
		{"NotPrincipal with Allow", policyDoc(`{"Effect":"Allow","NotPrincipal":{"AWS":"` + policyTestOther + `"},"Action":"sqs:*","Resource":"*"}`),
			policyTestUser, send, queue, DecisionUndecided},
		{"NotPrincipal with Allow excluding the principal", policyDoc(`{"Effect":"Allow","NotPrincipal":{"AWS":"*"},"Action":"sqs:*","Resource":"*"}`),
			policyTestUser, send, queue, DecisionImplicitDeny},

		// Old version and single-statement documents.
		{"2008 single statement", []byte(`{"Version":"2008-10-17","Statement":` + policyStreamStatement + `}`), policyTestUser, send, queue, DecisionAllow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Allows(tt.policy, tt.principal, tt.action, tt.resource)
			if err != nil {
				t.Fatalf("Allows(%s, %q, %q, %q): got error %v, want nil", tt.policy, tt.principal, tt.action, tt.resource, err)
			}
			if got != tt.want {
				t.Errorf("Allows(%s, %q, %q, %q): got %v, want %v", tt.policy, tt.principal, tt.action, tt.resource, got, tt.want)
			}
		})
	}
}

// TestAllowsDenyItCannotCompare: a Deny whose principal the evaluator
// cannot compare with the caller (an IAM unique id, which AWS shows for a
// deleted or recreated role or user, or an unreadable ARN of the caller's
// account) may apply, so the answer is "cannot decide", never Allow.
func TestAllowsDenyItCannotCompare(t *testing.T) {
	t.Parallel()
	const send = "sqs:SendMessage"
	allowAll := `{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}`
	deny := func(principal string) string {
		return `{"Effect":"Deny","Principal":{"AWS":` + principal + `},"Action":"sqs:SendMessage","Resource":"*"}`
	}
	tests := []struct {
		name, policy, principal string
		want                    Decision
	}{
		{"role unique id", deny(`"AROAJQABLZS4A3QDU576Q"`), policyTestRole, DecisionUndecided},
		{"user unique id", deny(`"AIDAJQABLZS4A3QDU576Q"`), policyTestUser, DecisionUndecided},
		{"unique id in a list", deny(`["arn:aws:iam::111122223333:role/other","AROAJQABLZS4A3QDU576Q"]`), policyTestRole, DecisionUndecided},
		{"unreadable ARN of the account", deny(`"arn:aws:iam::185583345998:group/senders"`), policyTestUser, DecisionUndecided},
		{"unreadable ARN of another account", deny(`"arn:aws:iam::111122223333:group/senders"`), policyTestUser, DecisionAllow},
		{"other role", deny(`"arn:aws:iam::185583345998:role/other"`), policyTestRole, DecisionAllow},
		{"the role itself", deny(`"` + policyTestRole + `"`), policyTestRole, DecisionExplicitDeny},
	}
	for _, tt := range tests {
		doc := policyDoc(allowAll, tt.policy)
		got, err := Allows(doc, tt.principal, send, policyTestQueueARN)
		if err != nil || got != tt.want {
			t.Errorf("%s: Allows = %v, %v; want %v", tt.name, got, err, tt.want)
		}
		got, err = AllowsRequest(doc, PolicyRequest{Principal: tt.principal, Action: send, Resource: policyTestQueueARN})
		if err != nil || got != tt.want {
			t.Errorf("%s: AllowsRequest = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	// In an Allow, a unique id grants nothing.
	got, err := Allows(policyDoc(`{"Effect":"Allow","Principal":{"AWS":"AROAJQABLZS4A3QDU576Q"},"Action":"sqs:SendMessage","Resource":"*"}`), policyTestRole, send, policyTestQueueARN)
	if err != nil || got != DecisionImplicitDeny {
		t.Errorf("Allow with a unique id: %v, %v; want %v", got, err, DecisionImplicitDeny)
	}
}

func TestAllowsGeneratedPolicies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      ResourcePolicyOptions
		principal string
		want      Decision
	}{
		{"plain, user of the account", ResourcePolicyOptions{}, policyTestUser, DecisionAllow},
		{"plain, other account", ResourcePolicyOptions{}, policyTestOther, DecisionImplicitDeny},
		{"SourceAccount", ResourcePolicyOptions{SourceAccount: "444455556666"}, policyTestUser, DecisionUndecided},
		{"SourceArn", ResourcePolicyOptions{SourceArn: "arn:aws:sns:us-east-1:444455556666:t"}, policyTestUser, DecisionUndecided},
		{"PrincipalOrgID", ResourcePolicyOptions{PrincipalOrgID: "o-a1b2c3d4e5"}, policyTestUser, DecisionUndecided},
		{"PrincipalOrgID, other account", ResourcePolicyOptions{PrincipalOrgID: "o-a1b2c3d4e5"}, policyTestOther, DecisionImplicitDeny},
	}
	for _, tt := range tests {
		doc, err := ResourcePolicy(policyTestQueueURL, policyTestAccount, tt.opts)
		if err != nil {
			t.Fatalf("%s: ResourcePolicy: got error %v, want nil", tt.name, err)
		}
		b, err := doc.MarshalIndent()
		if err != nil {
			t.Fatalf("%s: MarshalIndent: got error %v, want nil", tt.name, err)
		}
		got, err := Allows(b, tt.principal, "sqs:SendMessage", policyTestQueueARN)
		if err != nil || got != tt.want {
			t.Errorf("%s: Allows: got %v, %v, want %v, nil", tt.name, got, err, tt.want)
		}
	}
}

func TestAllowsErrors(t *testing.T) {
	t.Parallel()
	valid := policyDoc(policyStreamStatement)
	tests := []struct {
		name      string
		policy    []byte
		principal string
		action    string
		resource  string
		want      string
	}{
		{"invalid policy", []byte(`{"Statement":[{"Effect":"Maybe","Action":"sqs:*","Resource":"*"}]}`), policyTestUser, "sqs:SendMessage", policyTestQueueARN, `Effect "Maybe"`},
		{"not JSON", []byte(`nope`), policyTestUser, "sqs:SendMessage", policyTestQueueARN, "invalid character"},
		{"empty principal", valid, "", "sqs:SendMessage", policyTestQueueARN, "principal"},
		{"star principal", valid, "*", "sqs:SendMessage", policyTestQueueARN, "every principal"},
		{"principal name", valid, "hooks", "sqs:SendMessage", policyTestQueueARN, "want a 12-digit account ID"},
		{"principal short account", valid, "arn:aws:iam::18558334599:root", "sqs:SendMessage", policyTestQueueARN, "is not 12 digits"},
		{"principal partition differs", valid, "arn:aws-cn:iam::185583345998:root", "sqs:SendMessage", policyTestQueueARN, "resource is in partition aws"},
		{"empty action", valid, policyTestUser, "", policyTestQueueARN, "action"},
		{"action without service", valid, policyTestUser, "SendMessage", policyTestQueueARN, "action"},
		{"action wildcard", valid, policyTestUser, "sqs:*", policyTestQueueARN, "no wildcards"},
		{"action with space", valid, policyTestUser, "sqs:Send Message", policyTestQueueARN, "action"},
		{"action empty service", valid, policyTestUser, ":SendMessage", policyTestQueueARN, "action"},
		{"empty resource", valid, policyTestUser, "sqs:SendMessage", "", "is not an ARN"},
		{"star resource", valid, policyTestUser, "sqs:SendMessage", "*", "wildcards are not allowed"},
		{"resource pattern", valid, policyTestUser, "sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:*", "wildcards are not allowed"},
		{"short resource", valid, policyTestUser, "sqs:SendMessage", "arn:aws:sqs", "is not an ARN"},
		{"resource unknown partition", valid, policyTestUser, "sqs:SendMessage", "arn:nope:sqs:us-east-1:111122223333:q", "not a known AWS partition"},
		{"resource no service", valid, policyTestUser, "sqs:SendMessage", "arn:aws::us-east-1:111122223333:q", "not a service name"},
		{"resource bad region", valid, policyTestUser, "sqs:SendMessage", "arn:aws:sqs:US-EAST-1:111122223333:q", "not a valid AWS region name"},
		{"resource bad account", valid, policyTestUser, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1111:q", "is not 12 digits"},
		{"resource empty name", valid, policyTestUser, "sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:", "empty resource part"},
		{"resource control character", valid, policyTestUser, "sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:q\n", "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Allows(tt.policy, tt.principal, tt.action, tt.resource)
			if err == nil {
				t.Fatalf("Allows: got %v, nil, want an error containing %q", got, tt.want)
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("Allows: got error %v, want one wrapping ErrInvalidPolicy", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Allows: got error %q, want it to contain %q", err, tt.want)
			}
			if got != DecisionUndecided {
				t.Errorf("Allows: got decision %v with the error, want %v", got, DecisionUndecided)
			}
		})
	}
}

func TestIdentityAllows(t *testing.T) {
	t.Parallel()
	doc, err := PermissionPolicy(policyTestQueueURL, "https://sqs.us-west-2.amazonaws.com/111122223333/b.fifo")
	if err != nil {
		t.Fatalf("PermissionPolicy: got error %v, want nil", err)
	}
	b, err := doc.MarshalIndent()
	if err != nil {
		t.Fatalf("MarshalIndent: got error %v, want nil", err)
	}
	tests := []struct {
		action, resource string
		want             Decision
	}{
		{"sqs:SendMessage", policyTestQueueARN, DecisionAllow},
		{"SQS:SENDMESSAGEBATCH", "arn:aws:sqs:us-west-2:111122223333:b.fifo", DecisionAllow},
		{"sqs:GetQueueUrl", policyTestQueueARN, DecisionAllow},
		{"sqs:GetQueueAttributes", policyTestQueueARN, DecisionAllow},
		{"sqs:ReceiveMessage", policyTestQueueARN, DecisionImplicitDeny},
		{"sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:other", DecisionImplicitDeny},
		{"sns:Publish", "arn:aws:sns:us-east-1:111122223333:events", DecisionImplicitDeny},
	}
	for _, tt := range tests {
		got, err := IdentityAllows(b, tt.action, tt.resource)
		if err != nil || got != tt.want {
			t.Errorf("IdentityAllows(permission policy, %q, %q): got %v, %v, want %v, nil", tt.action, tt.resource, got, err, tt.want)
		}
	}
	rp, err := ResourcePolicy(policyTestQueueURL, policyTestAccount, ResourcePolicyOptions{})
	if err != nil {
		t.Fatalf("ResourcePolicy: got error %v, want nil", err)
	}
	rb, err := rp.MarshalIndent()
	if err != nil {
		t.Fatalf("MarshalIndent: got error %v, want nil", err)
	}
	if got, err := IdentityAllows(rb, "sqs:SendMessage", policyTestQueueARN); err == nil || !errors.Is(err, ErrInvalidPolicy) || got != DecisionUndecided {
		t.Errorf("IdentityAllows(resource policy): got %v, %v, want %v and an ErrInvalidPolicy error", got, err, DecisionUndecided)
	}
	if got, err := IdentityAllows(b, "sqs:*", policyTestQueueARN); err == nil || got != DecisionUndecided {
		t.Errorf("IdentityAllows(wildcard action): got %v, %v, want %v and an error", got, err, DecisionUndecided)
	}
	conditional := policyDoc(`{"Effect":"Allow","Action":"sqs:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}`)
	if got, err := IdentityAllows(conditional, "sqs:SendMessage", policyTestQueueARN); err != nil || got != DecisionUndecided {
		t.Errorf("IdentityAllows(conditional): got %v, %v, want %v, nil", got, err, DecisionUndecided)
	}
	deny := policyDoc(`{"Effect":"Allow","Action":"sqs:*","Resource":"*"}`, `{"Effect":"Deny","Action":"sqs:SendMessage","Resource":"*"}`)
	if got, err := IdentityAllows(deny, "sqs:SendMessage", policyTestQueueARN); err != nil || got != DecisionExplicitDeny {
		t.Errorf("IdentityAllows(deny): got %v, %v, want %v, nil", got, err, DecisionExplicitDeny)
	}
}

func TestPolicyGlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, s string
		segments   bool
		want       bool
	}{
		{"", "", false, true},
		{"", "a", false, false},
		{"abc", "abc", false, true},
		{"abc", "abd", false, false},
		{"*", "", false, true},
		{"*", "anything:at/all", true, true},
		{"a*", "a", false, true},
		{"a*c", "abbbc", false, true},
		{"a*c", "abbbd", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"a?c", "aéc", false, true}, // '?' is one character, not one byte
		{"**a**", "xxaxx", false, true},
		{"*a*b*c*", "aXbYc", false, true},
		{"*a*b*c*", "cba", false, false},
		{"a*:c", "ab:c", true, true},
		{"a*c", "a:c", false, true},
		{"a*c", "a:c", true, false},    // '*' inside a segment stops at ':'
		{"a*", "a:b:c", true, true},    // '*' ending the pattern crosses ':'
		{"a*:z", "ab:c:z", true, true}, // '*' ending a segment crosses ':'
		{"a?c", "a:c", true, false},
		{"a?c", "a:c", false, true},
	}
	for _, tt := range tests {
		if got := policyGlob(tt.pattern, tt.s, tt.segments); got != tt.want {
			t.Errorf("policyGlob(%q, %q, %v): got %v, want %v", tt.pattern, tt.s, tt.segments, got, tt.want)
		}
	}
}

func TestPolicyVarsToStar(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"arn:aws:s3:::b/${aws:username}/*", "arn:aws:s3:::b/*/*"},
		{"${a}${b}x${c}", "**x*"},
		{"a${unclosed", "a${unclosed"},
		{"${*}", "*"},
	}
	for _, tt := range tests {
		if got := policyVarsToStar(tt.in); got != tt.want {
			t.Errorf("policyVarsToStar(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPolicyGlobPathological(t *testing.T) {
	t.Parallel()
	// A backtracking matcher takes exponential time on these; the automaton
	// takes len(pattern) × len(s) steps.
	pattern := strings.Repeat("a*", 500) + "b"
	s := strings.Repeat("a", 2000)
	start := time.Now()
	for _, seg := range []bool{false, true} {
		if policyGlob(pattern, s, seg) {
			t.Errorf("policyGlob(a*a*…b, aaa…, %v): got true, want false", seg)
		}
	}
	resourcePattern := "arn:aws:sqs:us-east-1:111122223333:" + strings.Repeat("a*", 2000) + "b"
	policy := policyDoc(`{"Effect":"Allow","Principal":"*","Action":"` + strings.Repeat("s*", 50) + `q:*","Resource":"` + resourcePattern + `"}`)
	resource := "arn:aws:sqs:us-east-1:111122223333:" + strings.Repeat("a", 1900)
	got, err := Allows(policy, policyTestUser, "sqs:SendMessage", resource)
	if err == nil {
		t.Errorf("Allows with a wildcard service prefix: got %v, nil, want an error", got)
	}
	policy = policyDoc(`{"Effect":"Allow","Principal":"*","Action":"sqs:` + strings.Repeat("S*", 100) + `X","Resource":"` + resourcePattern + `"}`)
	got, err = Allows(policy, policyTestUser, "sqs:SendMessage", resource)
	if err != nil || got != DecisionImplicitDeny {
		t.Errorf("Allows(pathological patterns): got %v, %v, want %v, nil", got, err, DecisionImplicitDeny)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("pathological patterns took %v, want well under 10s", d)
	}
}

func TestAllowsRequestConditions(t *testing.T) {
	t.Parallel()
	// stmt allows everyone sqs:SendMessage on the queue under a condition.
	stmt := func(cond string) []byte {
		return policyDoc(`{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"` + policyTestQueueARN + `","Condition":` + cond + `}`)
	}
	src := "arn:aws:sns:us-east-1:111122223333:topic"
	tests := []struct {
		name string
		cond string
		ctx  map[string]string
		want Decision
	}{
		{"StringEquals match", `{"StringEquals":{"aws:SourceAccount":"111122223333"}}`, map[string]string{"aws:SourceAccount": "111122223333"}, DecisionAllow},
		{"StringEquals other", `{"StringEquals":{"aws:SourceAccount":"111122223333"}}`, map[string]string{"aws:SourceAccount": "111122223334"}, DecisionImplicitDeny},
		{"StringEquals absent", `{"StringEquals":{"aws:SourceAccount":"111122223333"}}`, map[string]string{}, DecisionImplicitDeny},
		{"StringEquals case-sensitive value", `{"StringEquals":{"k":"Abc"}}`, map[string]string{"k": "abc"}, DecisionImplicitDeny},
		{"StringEquals key case-insensitive", `{"StringEquals":{"AWS:SourceAccount":"1"}}`, map[string]string{"aws:sourceaccount": "1"}, DecisionAllow},
		{"StringEquals values OR'ed", `{"StringEquals":{"k":["a","b","c"]}}`, map[string]string{"k": "b"}, DecisionAllow},
		{"StringEquals values none", `{"StringEquals":{"k":["a","b"]}}`, map[string]string{"k": "c"}, DecisionImplicitDeny},
		{"StringEquals number value", `{"StringEquals":{"k":42}}`, map[string]string{"k": "42"}, DecisionAllow},
		{"keys AND'ed, both", `{"StringEquals":{"a":"1","b":"2"}}`, map[string]string{"a": "1", "b": "2"}, DecisionAllow},
		{"keys AND'ed, one", `{"StringEquals":{"a":"1","b":"2"}}`, map[string]string{"a": "1", "b": "3"}, DecisionImplicitDeny},
		{"operators AND'ed, both", `{"StringEquals":{"a":"1"},"StringLike":{"b":"x*"}}`, map[string]string{"a": "1", "b": "xyz"}, DecisionAllow},
		{"operators AND'ed, one", `{"StringEquals":{"a":"1"},"StringLike":{"b":"x*"}}`, map[string]string{"a": "1", "b": "yz"}, DecisionImplicitDeny},
		{"IfExists absent", `{"StringEqualsIfExists":{"k":"a"}}`, map[string]string{}, DecisionAllow},
		{"IfExists present match", `{"StringEqualsIfExists":{"k":"a"}}`, map[string]string{"k": "a"}, DecisionAllow},
		{"IfExists present other", `{"StringEqualsIfExists":{"k":"a"}}`, map[string]string{"k": "b"}, DecisionImplicitDeny},
		{"StringNotEquals other", `{"StringNotEquals":{"k":["a","b"]}}`, map[string]string{"k": "c"}, DecisionAllow},
		{"StringNotEquals one of values (NOR)", `{"StringNotEquals":{"k":["a","b"]}}`, map[string]string{"k": "b"}, DecisionImplicitDeny},
		{"StringNotEquals absent is true", `{"StringNotEquals":{"k":"a"}}`, map[string]string{}, DecisionAllow},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"k":"TeNaNt"}}`, map[string]string{"k": "tenant"}, DecisionAllow},
		{"StringEqualsIgnoreCase other", `{"StringEqualsIgnoreCase":{"k":"tenant"}}`, map[string]string{"k": "tenants"}, DecisionImplicitDeny},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"k":"TENANT"}}`, map[string]string{"k": "tenant"}, DecisionImplicitDeny},
		{"StringLike star", `{"StringLike":{"k":"tenant-*"}}`, map[string]string{"k": "tenant-42"}, DecisionAllow},
		{"StringLike question", `{"StringLike":{"k":"tenant-?"}}`, map[string]string{"k": "tenant-42"}, DecisionImplicitDeny},
		{"StringLike case-sensitive", `{"StringLike":{"k":"Tenant-*"}}`, map[string]string{"k": "tenant-42"}, DecisionImplicitDeny},
		{"StringNotLike", `{"StringNotLike":{"k":"tenant-*"}}`, map[string]string{"k": "tenant-42"}, DecisionImplicitDeny},
		{"StringLikeIfExists absent", `{"StringLikeIfExists":{"k":"x"}}`, map[string]string{"other": "x"}, DecisionAllow},
		{"ArnEquals", `{"ArnEquals":{"aws:SourceArn":"` + src + `"}}`, map[string]string{"aws:SourceArn": src}, DecisionAllow},
		{"ArnEquals other", `{"ArnEquals":{"aws:SourceArn":"` + src + `"}}`, map[string]string{"aws:SourceArn": src + "2"}, DecisionImplicitDeny},
		{"ArnLike region wildcard", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:111122223333:topic"}}`, map[string]string{"aws:SourceArn": src}, DecisionAllow},
		{"ArnLike wildcard stays in its part", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:us-east-1*"}}`, map[string]string{"aws:SourceArn": src}, DecisionUndecided},
		{"ArnLike resource wildcard", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:us-east-1:111122223333:*"}}`, map[string]string{"aws:SourceArn": src}, DecisionAllow},
		{"ArnLike account mismatch", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:999999999999:*"}}`, map[string]string{"aws:SourceArn": src}, DecisionImplicitDeny},
		{"ArnLike value not an ARN", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}`, map[string]string{"aws:SourceArn": "topic"}, DecisionImplicitDeny},
		{"ArnNotLike", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}`, map[string]string{"aws:SourceArn": src}, DecisionImplicitDeny},
		{"ArnLikeIfExists absent", `{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}`, map[string]string{}, DecisionAllow},
		{"unknown operator", `{"Bool":{"aws:SecureTransport":"true"}}`, map[string]string{"aws:SecureTransport": "true"}, DecisionUndecided},
		{"set operator", `{"ForAnyValue:StringEquals":{"k":"a"}}`, map[string]string{"k": "a"}, DecisionUndecided},
		{"operator name case-sensitive", `{"stringequals":{"k":"a"}}`, map[string]string{"k": "a"}, DecisionUndecided},
		{"unknown AND false is false", `{"Bool":{"b":"true"},"StringEquals":{"k":"a"}}`, map[string]string{"k": "x"}, DecisionImplicitDeny},
		{"unknown AND true is undecided", `{"Bool":{"b":"true"},"StringEquals":{"k":"a"}}`, map[string]string{"k": "a"}, DecisionUndecided},
		{"policy variable undecided", `{"StringEquals":{"k":"${aws:username}"}}`, map[string]string{"k": "bob"}, DecisionUndecided},
		{"policy variable OR match", `{"StringEquals":{"k":["${aws:username}","bob"]}}`, map[string]string{"k": "bob"}, DecisionAllow},
		{"nil context undecided", `{"StringEquals":{"k":"a"}}`, nil, DecisionUndecided},
	}
	for _, tt := range tests {
		got, err := AllowsRequest(stmt(tt.cond), PolicyRequest{Principal: policyTestUser, Action: "sqs:SendMessage", Resource: policyTestQueueARN, Context: tt.ctx})
		if err != nil || got != tt.want {
			t.Errorf("%s: AllowsRequest(Condition %s, context %v): got %v, %v, want %v, nil", tt.name, tt.cond, tt.ctx, got, err, tt.want)
		}
	}

	// A conditional Deny decides too, once its condition is known.
	deny := policyDoc(policyAllowAll, `{"Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"StringNotEquals":{"aws:SourceAccount":"111122223333"}}}`)
	for ctx, want := range map[string]Decision{"111122223333": DecisionAllow, "999999999999": DecisionExplicitDeny} {
		got, err := AllowsRequest(deny, PolicyRequest{policyTestUser, "sqs:SendMessage", policyTestQueueARN, map[string]string{"aws:SourceAccount": ctx}})
		if err != nil || got != want {
			t.Errorf("AllowsRequest(conditional Deny, SourceAccount %s): got %v, %v, want %v, nil", ctx, got, err, want)
		}
	}
	if got, err := AllowsRequest(deny, PolicyRequest{policyTestUser, "sqs:SendMessage", policyTestQueueARN, nil}); err != nil || got != DecisionUndecided {
		t.Errorf("AllowsRequest(conditional Deny, nil context): got %v, %v, want %v, nil", got, err, DecisionUndecided)
	}
}

func TestAllowsRequestMatchesAllows(t *testing.T) {
	t.Parallel()
	// With a nil context, AllowsRequest is Allows.
	docs := [][]byte{
		policyDoc(policyStreamStatement),
		policyDoc(policyAllowAll, `{"Effect":"Deny","Principal":"*","Action":"sqs:Send*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`),
		policyDoc(`{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"1"}}}`),
	}
	for _, d := range docs {
		for _, p := range []string{policyTestUser, policyTestOther, policyTestAccount} {
			a, aerr := Allows(d, p, "sqs:SendMessage", policyTestQueueARN)
			r, rerr := AllowsRequest(d, PolicyRequest{Principal: p, Action: "sqs:SendMessage", Resource: policyTestQueueARN})
			if a != r || (aerr == nil) != (rerr == nil) {
				t.Errorf("policy %s, principal %s: Allows %v, %v; AllowsRequest %v, %v", d, p, a, aerr, r, rerr)
			}
		}
	}
}

func TestAllowsRequestErrors(t *testing.T) {
	t.Parallel()
	b := policyDoc(policyAllowAll)
	tests := []struct {
		name string
		req  PolicyRequest
		want string
	}{
		{"empty context key", PolicyRequest{policyTestUser, "sqs:SendMessage", policyTestQueueARN, map[string]string{"": "x"}}, "empty key name"},
		{"keys differing in case", PolicyRequest{policyTestUser, "sqs:SendMessage", policyTestQueueARN, map[string]string{"sts:ExternalId": "a", "sts:externalid": "b"}}, "differ only in case"},
		{"wildcard action", PolicyRequest{policyTestUser, "sts:*", policyTestTenantRole, nil}, "is not <service>:<Action>"},
		{"partition mismatch", PolicyRequest{"arn:aws-cn:iam::185583345998:role/x", "sts:AssumeRole", policyTestTenantRole, nil}, "is in partition aws-cn but the resource is in partition aws"},
		{"bad principal", PolicyRequest{"*", "sts:AssumeRole", policyTestTenantRole, nil}, `principal "*"`},
	}
	for _, tt := range tests {
		got, err := AllowsRequest(b, tt.req)
		if err == nil || !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tt.want) || got != DecisionUndecided {
			t.Errorf("%s: AllowsRequest: got %v, %v, want %v and an ErrInvalidPolicy error containing %q", tt.name, got, err, DecisionUndecided, tt.want)
		}
	}
}
