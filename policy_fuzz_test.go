package sqshook

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseQueueURL(f *testing.F) {
	for _, seed := range []string{
		"https://sqs.us-east-1.amazonaws.com/111122223333/events",
		"https://sqs.us-east-2.amazonaws.com/111122223333/events.fifo",
		"https://queue.amazonaws.com/111122223333/events",
		"https://eu-west-1.queue.amazonaws.com/111122223333/events",
		"https://sqs.cn-north-1.amazonaws.com.cn/111122223333/events",
		"https://sqs.us-gov-west-1.amazonaws.com/111122223333/events",
		"https://sqs-fips.us-gov-east-1.amazonaws.com/111122223333/events",
		"https://sqs-fips.us-east-1.amazonaws.com/111122223333/events",
		"https://vpce-0a1b2c3d4e5f-abcdefgh.sqs.us-east-1.vpce.amazonaws.com/111122223333/events",
		"https://vpce-0a1b2c3d4e5f-abcdefgh-us-east-1a.sqs.us-east-1.vpce.amazonaws.com/111122223333/events",
		"https://sqs.us-east-1.api.aws/111122223333/events",
		"https://sqs.cn-north-1.api.amazonwebservices.com.cn/111122223333/events",
		"https://sqs.us-iso-east-1.c2s.ic.gov/111122223333/events",
		"https://sqs.us-isob-east-1.sc2s.sgov.gov/111122223333/events",
		"HTTPS://SQS.EU-WEST-1.AMAZONAWS.COM/111122223333/Events",
		"http://localhost:9324/000000000000/q",
		"https://sqs.us-east-1.amazonaws.com:443/111122223333/q",
		"https://sqs.us-east-1.amazonaws.com/111122223333/q/",
		"https://u@sqs.us-east-1.amazonaws.com/111122223333/q?x#y",
		"https://[::1]/111122223333/q",
		"https://sqs.us-east-1.amazonaws.com/111122223333/.fifo",
		"https://vpce--.sqs.us-east-1.vpce.amazonaws.com/111122223333/q",
		"https://sqs..amazonaws.com//",
		"",
		"://",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := ParseQueueURL(raw)
		arn, arnErr := QueueARN(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidQueueURL) {
				t.Fatalf("ParseQueueURL(%q): got error %v, want one wrapping ErrInvalidQueueURL", raw, err)
			}
			if q != (QueueURL{}) {
				t.Fatalf("ParseQueueURL(%q): got %+v with an error, want the zero QueueURL", raw, q)
			}
			if arnErr == nil || arn != "" {
				t.Fatalf("QueueARN(%q): got %q, %v, want an error as ParseQueueURL gave", raw, arn, arnErr)
			}
			return
		}
		if q.Raw != raw {
			t.Fatalf("ParseQueueURL(%q): got Raw %q, want the input", raw, q.Raw)
		}
		if !policyIsAccountID(q.AccountID) || policyQueueNameProblem(q.Name) != "" || q.FIFO != strings.HasSuffix(q.Name, ".fifo") {
			t.Fatalf("ParseQueueURL(%q): got %+v, which breaks the account or name rules", raw, q)
		}
		if arnErr != nil || arn != q.ARN() {
			t.Fatalf("QueueARN(%q): got %q, %v, want %q, nil", raw, arn, arnErr, q.ARN())
		}
		parts, err := ParseQueueARN(arn)
		if err != nil {
			t.Fatalf("ParseQueueARN(%q) of a parsed URL's ARN: got error %v, want nil", arn, err)
		}
		want := QueueARNParts{Partition: q.Partition, Region: q.Region, AccountID: q.AccountID, Name: q.Name, FIFO: q.FIFO}
		if parts != want {
			t.Fatalf("ParseQueueARN(%q): got %+v, want %+v", arn, parts, want)
		}
		if parts.String() != arn {
			t.Fatalf("QueueARNParts.String(): got %q, want %q", parts.String(), arn)
		}
		// The host is case-insensitive: the upper-cased host names the same queue.
		i := strings.Index(raw, "://") + 3
		j := i + strings.IndexByte(raw[i:], '/')
		upper := raw[:i] + strings.ToUpper(raw[i:j]) + raw[j:]
		q2, err := ParseQueueURL(upper)
		if err != nil {
			t.Fatalf("ParseQueueURL(%q) with the host upper-cased: got error %v, want nil", upper, err)
		}
		q2.Raw = q.Raw
		if q2 != q {
			t.Fatalf("ParseQueueURL(%q): got %+v, want %+v", upper, q2, q)
		}
	})
}

func FuzzPolicyAllows(f *testing.F) {
	seeds := []struct {
		policy                      string
		principal, action, resource string
	}{
		{string(policyDoc(policyStreamStatement)), policyTestUser, "sqs:SendMessage", policyTestQueueARN},
		{string(policyDoc(policyStreamStatement)), policyTestAccount, "SQS:SENDMESSAGE", policyTestQueueARN},
		{string(policyDoc(policyAllowAll, `{"Effect":"Deny","Principal":"*","Action":"sqs:Send*","Resource":"*"}`)), policyTestRole, "sqs:SendMessageBatch", policyTestQueueARN},
		{string(policyDoc(`{"Effect":"Deny","NotPrincipal":{"AWS":["` + policyTestUser + `","` + policyTestRoot + `"]},"NotAction":"sqs:Get*","NotResource":"arn:aws:sqs:*:111122223333:ev?nts"}`)),
			policyTestUser, "sqs:SendMessage", policyTestQueueARN},
		{string(policyDoc(`{"Effect":"Allow","Principal":{"AWS":"*","CanonicalUser":"abc"},"Action":"*","Resource":"arn:aws:sqs:us-*1:*:${aws:username}","Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"n":[1,2.5]}}}`)),
			policyTestOther, "sqs:ReceiveMessage", policyTestQueueARN},
		{`{"Version":"2008-10-17","Id":"x","Statement":{"Sid":"s","Effect":"Allow","Principal":{"AWS":["AIDAJQABLZS4A3QDU576Q","arn:aws:sts::185583345998:assumed-role/sender/s"]},"Action":"sqs:*","Resource":"*"}}`,
			policyTestRole, "sqs:SendMessage", policyTestQueueARN},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"arn:aws:sqs:us-east-1:1111*a*a*a*a*a*a*b"}]}`,
			policyTestUser, "sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{`{"Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*","Condition":{}}]}`, policyTestUser, "sqs:SendMessage", policyTestQueueARN},
		{`{"Statement":[]}`, "", "", ""},
		{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"a","AWS":"b"}}]}`, "*", "sqs:*", "*"},
		{`[null, {"\u2028": "<&>"}]`, "arn:aws:iam::185583345998:role//x", ":", "arn:::::"},
		{"{\"Id\":\"\xff\",\"Statement\":{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"arn:a:b:c:d:\xfe\"}}", policyTestUser, "sqs:SendMessage", policyTestQueueARN},
	}
	for _, s := range seeds {
		f.Add([]byte(s.policy), s.principal, s.action, s.resource)
	}
	f.Fuzz(func(t *testing.T, policy []byte, principal, action, resource string) {
		d, err := Allows(policy, principal, action, resource)
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("Allows: got error %v, want one wrapping ErrInvalidPolicy", err)
			}
			if d != DecisionUndecided {
				t.Fatalf("Allows: got %v with an error, want %v", d, DecisionUndecided)
			}
		} else if d < DecisionImplicitDeny || d > DecisionUndecided {
			t.Fatalf("Allows: got decision %d, out of range", int(d))
		}
		doc, perr := ParsePolicy(policy)
		if perr != nil {
			if err == nil {
				t.Fatalf("ParsePolicy: got error %v, but Allows accepted the policy", perr)
			}
			return
		}
		// A parsed policy marshals to JSON that parses back to the same
		// document and evaluates the same way.
		b, merr := doc.MarshalIndent()
		if merr != nil {
			t.Fatalf("MarshalIndent: got error %v, want nil", merr)
		}
		back, perr := ParsePolicy(b)
		if perr != nil {
			t.Fatalf("ParsePolicy(MarshalIndent(doc)): got error %v, want nil\n%s", perr, b)
		}
		if !reflect.DeepEqual(back, doc) {
			t.Fatalf("ParsePolicy(MarshalIndent(doc)):\ngot  %+v\nwant %+v", back, doc)
		}
		d2, err2 := Allows(b, principal, action, resource)
		if d2 != d || (err2 == nil) != (err == nil) {
			t.Fatalf("Allows on the re-marshalled policy: got %v, %v, want %v, %v", d2, err2, d, err)
		}
	})
}

func FuzzTrustPolicy(f *testing.F) {
	for _, s := range []struct{ principal, externalID string }{
		{"arn:aws:iam::185583345998:role/chat-server", "tenant-42"},
		{"arn:aws:iam::185583345998:user/hooks", "ab"},
		{"arn:aws:iam::185583345998:root", "a_b+c=d,e@f:g/h-i"},
		{"arn:aws-us-gov:iam::185583345998:role/p/a\"th/\\x/<&>/n", "tenant-42"},
		{"arn:aws-cn:iam::185583345998:role/x", strings.Repeat("Z", 1224)},
		{"*", "tenant-42"},
		{"185583345998", "tenant-42"},
		{"arn:aws:sts::185583345998:assumed-role/r/s", "tenant-42"},
		{"arn:aws:iam::185583345998:role/x", `"},"Effect":"Deny`},
		{"arn:aws:iam::185583345998:role/x\"},{\"AWS\":\"*", "a"},
		{"", ""},
	} {
		f.Add(s.principal, s.externalID)
	}
	f.Fuzz(func(t *testing.T, principal, externalID string) {
		doc, err := TrustPolicy(principal, externalID)
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("TrustPolicy(%q, %q): got error %v, want one wrapping ErrInvalidPolicy", principal, externalID, err)
			}
			if !reflect.DeepEqual(doc, PolicyDocument{}) {
				t.Fatalf("TrustPolicy: got %+v with an error, want the zero PolicyDocument", doc)
			}
			return
		}
		if principal == "*" || strings.ContainsAny(principal, "*?") || policyExternalIDProblem(externalID) != "" {
			t.Fatalf("TrustPolicy(%q, %q): accepted a wildcard principal or an invalid external ID", principal, externalID)
		}
		b, err := doc.MarshalIndent()
		if err != nil {
			t.Fatalf("MarshalIndent: %v", err)
		}
		compact, err := policyMarshal(doc)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if utf8.RuneCount(compact) > policyTrustMaxChars {
			t.Fatalf("TrustPolicy: %d characters, more than %d", utf8.RuneCount(compact), policyTrustMaxChars)
		}
		for _, js := range [][]byte{b, compact} {
			back, err := ParsePolicy(js)
			if err != nil {
				t.Fatalf("ParsePolicy(TrustPolicy(%q, %q)): got error %v\n%s", principal, externalID, err, js)
			}
			// The structure is fixed: the inputs only fill the two values.
			if len(back.Statement) != 1 {
				t.Fatalf("got %d statements, want 1\n%s", len(back.Statement), js)
			}
			st := back.Statement[0]
			want := Statement{
				Sid: "AllowSqshookAssumeRole", Effect: "Allow",
				Principal: &Principal{AWS: StringList{principal}},
				Action:    StringList{"sts:AssumeRole"},
				Condition: map[string]map[string]StringList{"StringEquals": {"sts:ExternalId": {externalID}}},
			}
			if !reflect.DeepEqual(st, want) || back.Version != PolicyVersion || back.ID != "" {
				t.Fatalf("ParsePolicy(TrustPolicy(%q, %q)):\ngot  %+v\nwant %+v", principal, externalID, back, want)
			}
		}
		// The policy lets exactly this principal in with exactly this ID.
		pr, _ := policyParseIAMPrincipal(principal)
		role := "arn:" + pr.partition + ":iam::111122223333:role/tenant"
		req := PolicyRequest{Principal: principal, Action: "sts:AssumeRole", Resource: role, Context: map[string]string{"sts:ExternalId": externalID}}
		if d, err := AllowsRequest(b, req); err != nil || d != DecisionAllow {
			t.Fatalf("AllowsRequest(trust policy, own principal and ID): got %v, %v, want allow", d, err)
		}
		req.Context = map[string]string{"sts:ExternalId": externalID + "x"}
		if d, err := AllowsRequest(b, req); err != nil || d != DecisionImplicitDeny {
			t.Fatalf("AllowsRequest(trust policy, other ID): got %v, %v, want implicit deny", d, err)
		}
		req.Context = map[string]string{}
		if d, err := AllowsRequest(b, req); err != nil || d != DecisionImplicitDeny {
			t.Fatalf("AllowsRequest(trust policy, no ID): got %v, %v, want implicit deny", d, err)
		}
	})
}

func FuzzAllowsRequest(f *testing.F) {
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::185583345998:role/chat-server"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"tenant-42"}}}]}`
	conds := string(policyDoc(`{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"StringLike":{"k":["a*b?c","${x}"]},"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:sns:*:1*:t?"},"StringNotEqualsIgnoreCase":{"K2":"X"},"Bool":{"b":true}}}`,
		`{"Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"ArnNotEquals":{"aws:SourceArn":"*"},"StringEqualsIfExists":{"k":1}}}`))
	for _, s := range []struct {
		policy, principal, action, resource, key, value string
		nilContext                                      bool
	}{
		{trust, "arn:aws:iam::185583345998:role/chat-server", "sts:AssumeRole", "arn:aws:iam::111122223333:role/r", "sts:ExternalId", "tenant-42", false},
		{trust, "arn:aws:iam::185583345998:role/chat-server", "sts:AssumeRole", "arn:aws:iam::111122223333:role/r", "STS:EXTERNALID", "tenant-4", false},
		{trust, "185583345998", "sts:AssumeRole", "arn:aws:iam::111122223333:role/r", "", "", true},
		{conds, policyTestUser, "sqs:SendMessage", policyTestQueueARN, "k", "aXbYc", false},
		{conds, policyTestUser, "sqs:SendMessage", policyTestQueueARN, "aws:SourceArn", "arn:aws:sns:us-east-1:123:tx", false},
		{conds, policyTestUser, "sqs:SendMessage", policyTestQueueARN, "k2", "x", false},
		{`{"Statement":[]}`, "", "", "", "", "", false},
	} {
		f.Add([]byte(s.policy), s.principal, s.action, s.resource, s.key, s.value, s.nilContext)
	}
	f.Fuzz(func(t *testing.T, policy []byte, principal, action, resource, key, value string, nilContext bool) {
		var ctx map[string]string
		if !nilContext {
			ctx = map[string]string{}
			if key != "" {
				ctx[key] = value
			}
		}
		req := PolicyRequest{Principal: principal, Action: action, Resource: resource, Context: ctx}
		d, err := AllowsRequest(policy, req)
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("AllowsRequest: got error %v, want one wrapping ErrInvalidPolicy", err)
			}
			if d != DecisionUndecided {
				t.Fatalf("AllowsRequest: got %v with an error, want %v", d, DecisionUndecided)
			}
			return
		}
		if d < DecisionImplicitDeny || d > DecisionUndecided {
			t.Fatalf("AllowsRequest: got decision %d, out of range", int(d))
		}
		// Knowing the context only ever settles what Allows left undecided.
		a, aerr := Allows(policy, principal, action, resource)
		if aerr != nil {
			t.Fatalf("Allows: got error %v where AllowsRequest had none", aerr)
		}
		if nilContext && a != d {
			t.Fatalf("AllowsRequest with a nil context: got %v, Allows %v", d, a)
		}
		if a != DecisionUndecided && a != d {
			t.Fatalf("AllowsRequest: got %v, but Allows decided %v without the context", d, a)
		}
		// The case of an ASCII key does not matter.
		if !nilContext && key != "" && strings.IndexFunc(key, func(r rune) bool { return r >= utf8.RuneSelf }) < 0 {
			req.Context = map[string]string{strings.ToUpper(key): value}
			if d2, err := AllowsRequest(policy, req); err != nil || d2 != d {
				t.Fatalf("AllowsRequest with key %q upper-cased: got %v, %v, want %v, nil", key, d2, err, d)
			}
		}
	})
}
