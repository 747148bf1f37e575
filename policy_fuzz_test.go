package sqshook

import (
	"errors"
	"reflect"
	"strings"
	"testing"
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
