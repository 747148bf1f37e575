// policydoc_test.go tests the policy document model: its JSON forms, ParsePolicy
// and Validate.

package sqshook

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMarshalIndentKeepsCharacters(t *testing.T) {
	t.Parallel()
	doc := PolicyDocument{Version: PolicyVersion, Statement: []Statement{{
		Effect:    "Allow",
		Action:    StringList{"s3:GetObject"},
		Resource:  StringList{"arn:aws:s3:::bucket/a&b<c>"},
		Condition: map[string]map[string]StringList{"StringLike": {"s3:prefix": {"<x>&"}}},
	}}}
	got, err := doc.MarshalIndent()
	if err != nil {
		t.Fatalf("MarshalIndent: got error %v, want nil", err)
	}
	for _, want := range []string{`"arn:aws:s3:::bucket/a&b<c>"`, `"s3:prefix": "<x>&"`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("MarshalIndent: got %s, want it to contain %s", got, want)
		}
	}
	if strings.HasSuffix(string(got), "\n") {
		t.Errorf("MarshalIndent: got a trailing newline, want none")
	}
}

func TestStringListJSON(t *testing.T) {
	t.Parallel()
	marshal := []struct {
		in   StringList
		want string
	}{
		{nil, `[]`},
		{StringList{}, `[]`},
		{StringList{"a"}, `"a"`},
		{StringList{"a", "b"}, `["a","b"]`},
	}
	for _, tt := range marshal {
		got, err := json.Marshal(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("json.Marshal(%#v): got %s, %v, want %s, nil", tt.in, got, err, tt.want)
		}
	}
	unmarshal := []struct {
		in   string
		want StringList
	}{
		{`"a"`, StringList{"a"}},
		{`["a","b"]`, StringList{"a", "b"}},
		{`[]`, StringList{}},
		{` [ "a" ] `, StringList{"a"}},
	}
	for _, tt := range unmarshal {
		var got StringList
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("json.Unmarshal(%s): got %#v, %v, want %#v, nil", tt.in, got, err, tt.want)
		}
	}
	kept := StringList{"kept"}
	if err := json.Unmarshal([]byte(`null`), &kept); err != nil || !reflect.DeepEqual(kept, StringList{"kept"}) {
		t.Errorf("json.Unmarshal(null): got %#v, %v, want the list unchanged", kept, err)
	}
	for _, in := range []string{`1`, `true`, `{"a":"b"}`, `[1]`, `["a",null]`, `[["a"]]`} {
		var got StringList
		err := json.Unmarshal([]byte(in), &got)
		if err == nil {
			t.Errorf("json.Unmarshal(%s): got %#v, nil, want an error", in, got)
		} else if !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("json.Unmarshal(%s): got error %v, want one wrapping ErrInvalidPolicy", in, err)
		}
	}
}

func TestPrincipalJSON(t *testing.T) {
	t.Parallel()
	marshal := []struct {
		in   Principal
		want string
	}{
		{Principal{All: true}, `"*"`},
		{Principal{All: true, AWS: StringList{"ignored"}}, `"*"`},
		{Principal{AWS: StringList{"*"}}, `{"AWS":"*"}`},
		{Principal{AWS: StringList{policyTestRoot}}, `{"AWS":"arn:aws:iam::185583345998:root"}`},
		{Principal{AWS: StringList{"111122223333", "444455556666"}, Service: StringList{"sns.amazonaws.com"}},
			`{"AWS":["111122223333","444455556666"],"Service":"sns.amazonaws.com"}`},
		{Principal{}, `{}`},
	}
	for _, tt := range marshal {
		got, err := json.Marshal(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("json.Marshal(%+v): got %s, %v, want %s, nil", tt.in, got, err, tt.want)
		}
	}
	unmarshal := []struct {
		in   string
		want Principal
	}{
		{`"*"`, Principal{All: true}},
		{`{"AWS":"*"}`, Principal{AWS: StringList{"*"}}},
		{`{"AWS":["111122223333","arn:aws:iam::444455556666:root"]}`, Principal{AWS: StringList{"111122223333", "arn:aws:iam::444455556666:root"}}},
		{`{"Service":"sns.amazonaws.com"}`, Principal{Service: StringList{"sns.amazonaws.com"}}},
		{`{"Federated":"cognito-identity.amazonaws.com"}`, Principal{Federated: StringList{"cognito-identity.amazonaws.com"}}},
		{`{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}`,
			Principal{CanonicalUser: StringList{"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}}},
	}
	for _, tt := range unmarshal {
		var got Principal
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("json.Unmarshal(%s): got %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{
		`"arn:aws:iam::111122223333:root"`,
		`{}`,
		`{"aws":"*"}`,
		`{"User":"bob"}`,
		`{"AWS":[]}`,
		`{"AWS":null}`,
		`{"AWS":"a","AWS":"b"}`,
		`{"AWS":5}`,
		`5`,
		`["*"]`,
	} {
		var got Principal
		err := json.Unmarshal([]byte(in), &got)
		if err == nil || !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("json.Unmarshal(%s): got %+v, %v, want an ErrInvalidPolicy error", in, got, err)
		}
	}
}

func TestParsePolicyAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want PolicyDocument
	}{
		{
			name: "single statement object, 2008 version, Id",
			doc: `{"Version":"2008-10-17","Id":"Policy1","Statement":{"Sid":"s","Effect":"Allow",
				"Principal":{"AWS":"185583345998"},"Action":"SQS:SendMessage","Resource":"arn:aws:sqs:us-east-1:111122223333:events"}}`,
			want: PolicyDocument{Version: "2008-10-17", ID: "Policy1", Statement: []Statement{{
				Sid: "s", Effect: "Allow", Principal: &Principal{AWS: StringList{"185583345998"}},
				Action: StringList{"SQS:SendMessage"}, Resource: StringList{policyTestQueueARN},
			}}},
		},
		{
			name: "no Version, Principal star, NotAction and NotResource",
			doc:  `{"Statement":[{"Effect":"Deny","Principal":"*","NotAction":["sqs:SendMessage","sqs:Get*"],"NotResource":"*"}]}`,
			want: PolicyDocument{Statement: []Statement{{
				Effect: "Deny", Principal: &Principal{All: true},
				NotAction: StringList{"sqs:SendMessage", "sqs:Get*"}, NotResource: StringList{"*"},
			}}},
		},
		{
			name: "conditions with strings, numbers and booleans; empty Condition dropped",
			doc: `{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sqs:*","Resource":"*",
				 "Condition":{"Bool":{"aws:SecureTransport":false},"NumericLessThan":{"n":[1,2.5e3]},"StringEquals":{"aws:SourceAccount":["111122223333"]}}},
				{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sqs:*","Resource":"*","Condition":{}}]}`,
			want: PolicyDocument{Version: PolicyVersion, Statement: []Statement{
				{
					Effect: "Allow", Principal: &Principal{AWS: StringList{"*"}}, Action: StringList{"sqs:*"}, Resource: StringList{"*"},
					Condition: map[string]map[string]StringList{
						"Bool":            {"aws:SecureTransport": {"false"}},
						"NumericLessThan": {"n": {"1", "2.5e3"}},
						"StringEquals":    {"aws:SourceAccount": {"111122223333"}},
					},
				},
				{Effect: "Allow", Principal: &Principal{AWS: StringList{"*"}}, Action: StringList{"sqs:*"}, Resource: StringList{"*"}},
			}},
		},
		{
			name: "STS, unique ID and service principals; NotPrincipal; policy variable",
			doc: `{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Principal":{"AWS":["arn:aws:sts::111122223333:assumed-role/r/s","AIDAJQABLZS4A3QDU576Q"],"Service":"sns.amazonaws.com"},
				 "Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:111122223333:${aws:username}"},
				{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sqs:*","Resource":"*"}]}`,
			want: PolicyDocument{Version: PolicyVersion, Statement: []Statement{
				{
					Effect:    "Allow",
					Principal: &Principal{AWS: StringList{"arn:aws:sts::111122223333:assumed-role/r/s", "AIDAJQABLZS4A3QDU576Q"}, Service: StringList{"sns.amazonaws.com"}},
					Action:    StringList{"sqs:SendMessage"}, Resource: StringList{"arn:aws:sqs:us-east-1:111122223333:${aws:username}"},
				},
				{Effect: "Deny", NotPrincipal: &Principal{AWS: StringList{"arn:aws:iam::111122223333:root"}}, Action: StringList{"sqs:*"}, Resource: StringList{"*"}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePolicy([]byte(tt.doc))
			if err != nil {
				t.Fatalf("ParsePolicy: got error %v, want nil", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParsePolicy:\ngot  %+v\nwant %+v", got, tt.want)
			}
			policyCheckRoundTrip(t, got)
		})
	}
}

func TestParsePolicyRejects(t *testing.T) {
	t.Parallel()
	// st wraps one statement's members in a valid document.
	st := func(members string) string {
		return `{"Version":"2012-10-17","Statement":[{` + members + `}]}`
	}
	const ok = `"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sqs:SendMessage","Resource":"*"`
	tests := []struct {
		name, doc, want string
	}{
		{"empty", ``, "document is empty"},
		{"white space", " \n", "document is empty"},
		{"not JSON", `{`, "invalid policy"},
		{"array", `[]`, "policy is an array, want an object"},
		{"string", `"policy"`, "policy is a string"},
		{"null", `null`, "no statements"},
		{"trailing data", `{"Statement":[{` + ok + `}]} {}`, "after top-level value"},
		{"unknown element", `{"Version":"2012-10-17","Statements":[]}`, `unknown policy element "Statements"`},
		{"element case", `{"version":"2012-10-17","Statement":[{` + ok + `}]}`, `unknown policy element "version"`},
		{"repeated element", `{"Version":"2012-10-17","Version":"2012-10-17","Statement":[{` + ok + `}]}`, `has "Version" more than once`},
		{"bad version", `{"Version":"2012-10-18","Statement":[{` + ok + `}]}`, `Version "2012-10-18"`},
		{"numeric version", `{"Version":2012,"Statement":[{` + ok + `}]}`, "Version is a number"},
		{"no statements", `{"Version":"2012-10-17"}`, "no statements"},
		{"empty statements", `{"Version":"2012-10-17","Statement":[]}`, "no statements"},
		{"statement string", `{"Version":"2012-10-17","Statement":"x"}`, "Statement is a string"},
		{"statement element number", `{"Version":"2012-10-17","Statement":[1]}`, "Statement[0] is a number"},
		{"statement element null", `{"Version":"2012-10-17","Statement":[null]}`, "Statement[0] is null"},
		{"missing Effect", st(`"Action":"sqs:SendMessage","Resource":"*"`), `Effect "" is not`},
		{"lower-case Effect", st(`"Effect":"allow","Action":"sqs:SendMessage","Resource":"*"`), `Effect "allow" is not`},
		{"unknown Effect", st(`"Effect":"Permit","Action":"sqs:SendMessage","Resource":"*"`), `Effect "Permit"`},
		{"repeated Effect", st(`"Effect":"Allow","Effect":"Deny","Action":"sqs:SendMessage","Resource":"*"`), `has "Effect" more than once`},
		{"missing Action", st(`"Effect":"Allow","Resource":"*"`), "has no Action"},
		{"empty Action", st(`"Effect":"Allow","Action":[],"Resource":"*"`), "has no Action"},
		{"null Action", st(`"Effect":"Allow","Action":null,"Resource":"*"`), "Action is null"},
		{"numeric Action", st(`"Effect":"Allow","Action":5,"Resource":"*"`), "Action: got a number"},
		{"Action and NotAction", st(`"Effect":"Allow","Action":"sqs:*","NotAction":"sqs:X","Resource":"*"`), "both Action and NotAction"},
		{"Action without service", st(`"Effect":"Allow","Action":"SendMessage","Resource":"*"`), "<service>:<action>"},
		{"Action with space", st(`"Effect":"Allow","Action":"sqs:Send Message","Resource":"*"`), "action name may hold only"},
		{"Action service wildcard", st(`"Effect":"Allow","Action":"s*:SendMessage","Resource":"*"`), "service prefix"},
		{"missing Resource", st(`"Effect":"Allow","Action":"sqs:*"`), "has no Resource"},
		{"Resource and NotResource", st(`"Effect":"Allow","Action":"sqs:*","Resource":"*","NotResource":"*"`), "both Resource and NotResource"},
		{"short Resource ARN", st(`"Effect":"Allow","Action":"sqs:*","Resource":"arn:aws:sqs"`), "is not \"*\" or an ARN"},
		{"Resource not an ARN", st(`"Effect":"Allow","Action":"sqs:*","Resource":"my-queue"`), "is not \"*\" or an ARN"},
		{"Resource array with number", st(`"Effect":"Allow","Action":"sqs:*","Resource":["*",1]`), "element 1 is a number"},
		{"Principal and NotPrincipal", st(`"Effect":"Deny","Principal":"*","NotPrincipal":"*","Action":"sqs:*","Resource":"*"`), "both Principal and NotPrincipal"},
		{"Principal ARN string", st(`"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"sqs:*","Resource":"*"`), "only \"*\" may be written"},
		{"Principal empty object", st(`"Effect":"Allow","Principal":{},"Action":"sqs:*","Resource":"*"`), "principal object is empty"},
		{"Principal null", st(`"Effect":"Allow","Principal":null,"Action":"sqs:*","Resource":"*"`), "Principal is null"},
		{"Principal partial wildcard", st(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/*"},"Action":"sqs:*","Resource":"*"`), "wildcards are allowed in a principal only"},
		{"Principal name", st(`"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"sqs:*","Resource":"*"`), `AWS principal "bob"`},
		{"Principal S3 ARN", st(`"Effect":"Allow","Principal":{"AWS":"arn:aws:s3:::bucket"},"Action":"sqs:*","Resource":"*"`), "is not an IAM or STS ARN"},
		{"Principal empty service", st(`"Effect":"Allow","Principal":{"Service":""},"Action":"sqs:*","Resource":"*"`), "Service principal"},
		{"Principal unknown type", st(`"Effect":"Allow","Principal":{"Users":"bob"},"Action":"sqs:*","Resource":"*"`), `unknown principal type "Users"`},
		{"unknown statement element", st(ok + `,"Actions":"sqs:*"`), `unknown statement element "Actions"`},
		{"lower-case statement element", st(`"effect":"Allow","Action":"sqs:*","Resource":"*"`), `unknown statement element "effect"`},
		{"Condition string", st(ok + `,"Condition":"x"`), "Condition is a string"},
		{"Condition operator string", st(ok + `,"Condition":{"StringEquals":"x"}`), "is a string, want an object"},
		{"Condition value object", st(ok + `,"Condition":{"StringEquals":{"k":{"a":1}}}`), "value is an object"},
		{"Condition value null", st(ok + `,"Condition":{"StringEquals":{"k":null}}`), "value is null"},
		{"Condition repeated key", st(ok + `,"Condition":{"StringEquals":{"k":"a","k":"b"}}`), `has "k" more than once`},
		{"Condition empty operator", st(ok + `,"Condition":{"":{"k":"v"}}`), "empty operator"},
		{"Condition empty key", st(ok + `,"Condition":{"StringEquals":{"":"v"}}`), "empty key"},
		{"too large", `{"Id":"` + strings.Repeat("x", policyMaxBytes) + `"}`, "more than the 65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePolicy([]byte(tt.doc))
			if err == nil {
				t.Fatalf("ParsePolicy: got %+v, nil, want an error containing %q", got, tt.want)
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("ParsePolicy: got error %v, want one wrapping ErrInvalidPolicy", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePolicy: got error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParsePolicyKeepsSyntaxError(t *testing.T) {
	t.Parallel()
	_, err := ParsePolicy([]byte(`{"Statement": [}`))
	var se *json.SyntaxError
	if !errors.Is(err, ErrInvalidPolicy) || !errors.As(err, &se) {
		t.Errorf("ParsePolicy(bad JSON): got %v, want an error wrapping ErrInvalidPolicy and a *json.SyntaxError", err)
	}
}

func TestValidateZeroDocument(t *testing.T) {
	t.Parallel()
	if err := (PolicyDocument{}).Validate(); err == nil || !errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("PolicyDocument{}.Validate(): got %v, want an ErrInvalidPolicy error", err)
	}
	doc := PolicyDocument{Statement: []Statement{{Sid: "x", Effect: "Allow", Principal: &Principal{}, Action: StringList{"sqs:*"}, Resource: StringList{"*"}}}}
	err := doc.Validate()
	if err == nil || !strings.Contains(err.Error(), `Statement[0] (Sid "x"): Principal: names no principal`) {
		t.Errorf("Validate with an empty Principal: got %v, want it to name the statement and the problem", err)
	}
}

func TestParsePolicyTrustStatementWithoutResource(t *testing.T) {
	t.Parallel()
	doc := policyDoc(`{"Effect":"Allow","Principal":{"AWS":"` + policyTestServerRole + `"},"Action":"sts:AssumeRole"}`)
	if _, err := ParsePolicy(doc); err != nil {
		t.Fatalf("ParsePolicy(trust policy without Resource): got error %v, want nil", err)
	}
	if got, err := Allows(doc, policyTestServerRole, "sts:AssumeRole", policyTestTenantRole); err != nil || got != DecisionAllow {
		t.Errorf("Allows(unconditional trust policy): got %v, %v, want %v, nil", got, err, DecisionAllow)
	}
	deny := policyDoc(`{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}`, `{"Effect":"Deny","NotPrincipal":{"AWS":["`+policyTestServerRole+`","arn:aws:iam::185583345998:root"]},"Action":"sts:*"}`)
	if got, err := Allows(deny, policyTestOther, "sts:AssumeRole", policyTestTenantRole); err != nil || got != DecisionExplicitDeny {
		t.Errorf("Allows(trust policy with Deny NotPrincipal, other): got %v, %v, want %v, nil", got, err, DecisionExplicitDeny)
	}
	// Without a Principal, a statement still needs a Resource.
	if _, err := ParsePolicy(policyDoc(`{"Effect":"Allow","Action":"sts:AssumeRole"}`)); err == nil || !strings.Contains(err.Error(), "has no Resource") {
		t.Errorf("ParsePolicy(identity statement without Resource): got %v, want a \"has no Resource\" error", err)
	}
	if _, err := IdentityAllows(doc, "sts:AssumeRole", policyTestTenantRole); err == nil {
		t.Errorf("IdentityAllows(trust policy): got nil error, want one (it has a Principal)")
	}
}
