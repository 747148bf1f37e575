// policy_test.go tests the policy generators and holds the helpers and
// constants the policy, queue URL and evaluator tests share.

package sqshook

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const (
	policyTestQueueURL = "https://sqs.us-east-1.amazonaws.com/111122223333/events"
	policyTestQueueARN = "arn:aws:sqs:us-east-1:111122223333:events"
	policyTestAccount  = "185583345998"
	policyTestRoot     = "arn:aws:iam::185583345998:root"
	policyTestUser     = "arn:aws:iam::185583345998:user/hooks"
	policyTestRole     = "arn:aws:iam::185583345998:role/service/sender"
	policyTestOther    = "arn:aws:iam::999999999999:user/mallory"
)

func TestResourcePolicyGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		url       string
		principal string
		opts      ResourcePolicyOptions
		want      string
	}{
		{
			name:      "account ID, no conditions",
			url:       policyTestQueueURL,
			principal: policyTestAccount,
			want: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowSqshookSend",
      "Effect": "Allow",
      "Principal": {
        "AWS": "arn:aws:iam::185583345998:root"
      },
      "Action": "SQS:SendMessage",
      "Resource": "arn:aws:sqs:us-east-1:111122223333:events"
    }
  ]
}`,
		},
		{
			name:      "root ARN and custom Sid",
			url:       "https://sqs.us-west-2.amazonaws.com/111122223333/customer-sqs-for-stream",
			principal: policyTestRoot,
			opts:      ResourcePolicyOptions{Sid: "AllowStreamProdAccount"},
			want: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowStreamProdAccount",
      "Effect": "Allow",
      "Principal": {
        "AWS": "arn:aws:iam::185583345998:root"
      },
      "Action": "SQS:SendMessage",
      "Resource": "arn:aws:sqs:us-west-2:111122223333:customer-sqs-for-stream"
    }
  ]
}`,
		},
		{
			name:      "role with path, SourceAccount",
			url:       policyTestQueueURL,
			principal: policyTestRole,
			opts:      ResourcePolicyOptions{SourceAccount: "444455556666"},
			want: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowSqshookSend",
      "Effect": "Allow",
      "Principal": {
        "AWS": "arn:aws:iam::185583345998:role/service/sender"
      },
      "Action": "SQS:SendMessage",
      "Resource": "arn:aws:sqs:us-east-1:111122223333:events",
      "Condition": {
        "StringEquals": {
          "aws:SourceAccount": "444455556666"
        }
      }
    }
  ]
}`,
		},
		{
			name:      "user, SourceArn",
			url:       "https://sqs.us-east-1.amazonaws.com/111122223333/events.fifo",
			principal: policyTestUser,
			opts:      ResourcePolicyOptions{SourceArn: "arn:aws:sns:us-east-1:444455556666:chat-*"},
			want: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowSqshookSend",
      "Effect": "Allow",
      "Principal": {
        "AWS": "arn:aws:iam::185583345998:user/hooks"
      },
      "Action": "SQS:SendMessage",
      "Resource": "arn:aws:sqs:us-east-1:111122223333:events.fifo",
      "Condition": {
        "ArnLike": {
          "aws:SourceArn": "arn:aws:sns:us-east-1:444455556666:chat-*"
        }
      }
    }
  ]
}`,
		},
		{
			name:      "PrincipalOrgID",
			url:       policyTestQueueURL,
			principal: policyTestAccount,
			opts:      ResourcePolicyOptions{PrincipalOrgID: "o-a1b2c3d4e5"},
			want: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowSqshookSend",
      "Effect": "Allow",
      "Principal": {
        "AWS": "arn:aws:iam::185583345998:root"
      },
      "Action": "SQS:SendMessage",
      "Resource": "arn:aws:sqs:us-east-1:111122223333:events",
      "Condition": {
        "StringEquals": {
          "aws:PrincipalOrgID": "o-a1b2c3d4e5"
        }
      }
    }
  ]
}`,
		},
		{
			name:      "every condition, China partition",
			url:       "https://sqs.cn-north-1.amazonaws.com.cn/111122223333/events",
			principal: policyTestAccount,
			opts: ResourcePolicyOptions{
				SourceAccount:  "444455556666",
				SourceArn:      "arn:aws-cn:sns:cn-north-1:444455556666:chat",
				PrincipalOrgID: "o-a1b2c3d4e5",
			},
			want: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowSqshookSend",
      "Effect": "Allow",
      "Principal": {
        "AWS": "arn:aws-cn:iam::185583345998:root"
      },
      "Action": "SQS:SendMessage",
      "Resource": "arn:aws-cn:sqs:cn-north-1:111122223333:events",
      "Condition": {
        "ArnLike": {
          "aws:SourceArn": "arn:aws-cn:sns:cn-north-1:444455556666:chat"
        },
        "StringEquals": {
          "aws:PrincipalOrgID": "o-a1b2c3d4e5",
          "aws:SourceAccount": "444455556666"
        }
      }
    }
  ]
}`,
		},
		{
			name:      "GovCloud account ID",
			url:       "https://sqs.us-gov-west-1.amazonaws.com/111122223333/events",
			principal: policyTestAccount,
			want: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowSqshookSend",
      "Effect": "Allow",
      "Principal": {
        "AWS": "arn:aws-us-gov:iam::185583345998:root"
      },
      "Action": "SQS:SendMessage",
      "Resource": "arn:aws-us-gov:sqs:us-gov-west-1:111122223333:events"
    }
  ]
}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, err := ResourcePolicy(tt.url, tt.principal, tt.opts)
			if err != nil {
				t.Fatalf("ResourcePolicy: got error %v, want nil", err)
			}
			got, err := doc.MarshalIndent()
			if err != nil {
				t.Fatalf("MarshalIndent: got error %v, want nil", err)
			}
			if string(got) != tt.want {
				t.Errorf("MarshalIndent:\ngot  %s\nwant %s", got, tt.want)
			}
			policyCheckRoundTrip(t, doc)
		})
	}
}

// policyCheckRoundTrip checks that doc survives both JSON forms and
// ParsePolicy unchanged.
func policyCheckRoundTrip(t *testing.T, doc PolicyDocument) {
	t.Helper()
	indented, err := doc.MarshalIndent()
	if err != nil {
		t.Fatalf("MarshalIndent: got error %v, want nil", err)
	}
	compact, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("json.Marshal: got error %v, want nil", err)
	}
	for _, b := range [][]byte{indented, compact} {
		back, err := ParsePolicy(b)
		if err != nil {
			t.Fatalf("ParsePolicy(%s): got error %v, want nil", b, err)
		}
		if !reflect.DeepEqual(back, doc) {
			t.Errorf("ParsePolicy(marshalled doc):\ngot  %+v\nwant %+v", back, doc)
		}
	}
}

func TestResourcePolicyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		url       string
		principal string
		opts      ResourcePolicyOptions
		wantIs    error
		want      string
	}{
		{"bad URL", "http://sqs.us-east-1.amazonaws.com/111122223333/q", policyTestAccount, ResourcePolicyOptions{}, ErrInvalidQueueURL, "scheme is http"},
		{"empty principal", policyTestQueueURL, "", ResourcePolicyOptions{}, ErrInvalidPolicy, "is empty"},
		{"everyone", policyTestQueueURL, "*", ResourcePolicyOptions{}, ErrInvalidPolicy, "every principal"},
		{"short account", policyTestQueueURL, "18558334599", ResourcePolicyOptions{}, ErrInvalidPolicy, "want a 12-digit account ID"},
		{"name", policyTestQueueURL, "stream", ResourcePolicyOptions{}, ErrInvalidPolicy, "want a 12-digit account ID"},
		{"ARN with short account", policyTestQueueURL, "arn:aws:iam::1855833459:root", ResourcePolicyOptions{}, ErrInvalidPolicy, "is not 12 digits"},
		{"ARN too few fields", policyTestQueueURL, "arn:aws:iam::185583345998", ResourcePolicyOptions{}, ErrInvalidPolicy, "want a 12-digit account ID"},
		{"unknown partition", policyTestQueueURL, "arn:aws-xx:iam::185583345998:root", ResourcePolicyOptions{}, ErrInvalidPolicy, "not a known AWS partition"},
		{"STS session", policyTestQueueURL, "arn:aws:sts::185583345998:assumed-role/r/s", ResourcePolicyOptions{}, ErrInvalidPolicy, `service "sts" is not iam`},
		{"group", policyTestQueueURL, "arn:aws:iam::185583345998:group/devs", ResourcePolicyOptions{}, ErrInvalidPolicy, "is not root, user/<name> or role/<name>"},
		{"region in IAM ARN", policyTestQueueURL, "arn:aws:iam:us-east-1:185583345998:root", ResourcePolicyOptions{}, ErrInvalidPolicy, "no region"},
		{"empty user name", policyTestQueueURL, "arn:aws:iam::185583345998:user/", ResourcePolicyOptions{}, ErrInvalidPolicy, "must be 1 to 64 characters"},
		{"wildcard role", policyTestQueueURL, "arn:aws:iam::185583345998:role/*", ResourcePolicyOptions{}, ErrInvalidPolicy, "may hold only letters"},
		{"wildcard path", policyTestQueueURL, "arn:aws:iam::185583345998:role/a*/r", ResourcePolicyOptions{}, ErrInvalidPolicy, "without wildcards"},
		{"empty path segment", policyTestQueueURL, "arn:aws:iam::185583345998:role//r", ResourcePolicyOptions{}, ErrInvalidPolicy, "empty segment"},
		{"long role name", policyTestQueueURL, "arn:aws:iam::185583345998:role/" + strings.Repeat("r", 65), ResourcePolicyOptions{}, ErrInvalidPolicy, "1 to 64"},
		{"partition mismatch", policyTestQueueURL, "arn:aws-cn:iam::185583345998:root", ResourcePolicyOptions{}, ErrInvalidPolicy, "partition aws-cn but the queue is in partition aws"},
		{"bad Sid", policyTestQueueURL, policyTestAccount, ResourcePolicyOptions{Sid: "Allow Stream"}, ErrInvalidPolicy, "Sid"},
		{"long Sid", policyTestQueueURL, policyTestAccount, ResourcePolicyOptions{Sid: strings.Repeat("s", 129)}, ErrInvalidPolicy, "longer than 128"},
		{"bad SourceAccount", policyTestQueueURL, policyTestAccount, ResourcePolicyOptions{SourceAccount: "4444-5555-6666"}, ErrInvalidPolicy, "SourceAccount"},
		{"SourceArn not an ARN", policyTestQueueURL, policyTestAccount, ResourcePolicyOptions{SourceArn: "sns:topic"}, ErrInvalidPolicy, "is not an ARN"},
		{"SourceArn other partition", policyTestQueueURL, policyTestAccount, ResourcePolicyOptions{SourceArn: "arn:aws-cn:sns:cn-north-1:444455556666:t"}, ErrInvalidPolicy, "not the queue's partition"},
		{"SourceArn service wildcard", policyTestQueueURL, policyTestAccount, ResourcePolicyOptions{SourceArn: "arn:aws:s*:us-east-1:444455556666:t"}, ErrInvalidPolicy, "no wildcards"},
		{"SourceArn bad account", policyTestQueueURL, policyTestAccount, ResourcePolicyOptions{SourceArn: "arn:aws:sns:us-east-1:4444:t"}, ErrInvalidPolicy, "account"},
		{"SourceArn empty resource", policyTestQueueURL, policyTestAccount, ResourcePolicyOptions{SourceArn: "arn:aws:sns:us-east-1:444455556666:"}, ErrInvalidPolicy, "empty resource"},
		{"SourceArn space", policyTestQueueURL, policyTestAccount, ResourcePolicyOptions{SourceArn: "arn:aws:sns:us-east-1:444455556666:a b"}, ErrInvalidPolicy, "white space"},
		{"short org", policyTestQueueURL, policyTestAccount, ResourcePolicyOptions{PrincipalOrgID: "o-abc"}, ErrInvalidPolicy, "PrincipalOrgID"},
		{"upper-case org", policyTestQueueURL, policyTestAccount, ResourcePolicyOptions{PrincipalOrgID: "o-A1B2C3D4E5"}, ErrInvalidPolicy, "PrincipalOrgID"},
		{"org without prefix", policyTestQueueURL, policyTestAccount, ResourcePolicyOptions{PrincipalOrgID: "a1b2c3d4e5f6"}, ErrInvalidPolicy, "PrincipalOrgID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, err := ResourcePolicy(tt.url, tt.principal, tt.opts)
			if err == nil {
				t.Fatalf("ResourcePolicy: got %+v, nil, want an error containing %q", doc, tt.want)
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("ResourcePolicy: got error %v, want one wrapping %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ResourcePolicy: got error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestResourcePolicyAcceptsPatterns(t *testing.T) {
	t.Parallel()
	for _, opts := range []ResourcePolicyOptions{
		{SourceArn: "arn:aws:sns:*:444455556666:*"},
		{SourceArn: "arn:aws:events:us-east-1:444455556666:rule/chat/*"},
		{SourceArn: "arn:aws:sns:us-east-1:4444555566??:topic"},
		{SourceArn: "arn:aws:sns:us-east-1:44445555*:topic"},
		{SourceArn: "arn:aws:s3:::bucket"},
		{Sid: "__owner_statement"},
		{Sid: "Allow-1"},
		{PrincipalOrgID: "o-" + strings.Repeat("a", 32)},
	} {
		if _, err := ResourcePolicy(policyTestQueueURL, policyTestAccount, opts); err != nil {
			t.Errorf("ResourcePolicy(%+v): got error %v, want nil", opts, err)
		}
	}
}

func TestPermissionPolicyGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		urls []string
		want string
	}{
		{
			name: "one queue",
			urls: []string{policyTestQueueURL},
			want: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "SqshookSend",
      "Effect": "Allow",
      "Action": [
        "sqs:GetQueueUrl",
        "sqs:SendMessage",
        "sqs:SendMessageBatch",
        "sqs:GetQueueAttributes"
      ],
      "Resource": "arn:aws:sqs:us-east-1:111122223333:events"
    }
  ]
}`,
		},
		{
			name: "several queues, duplicates dropped, order kept",
			urls: []string{
				"https://sqs.us-west-2.amazonaws.com/111122223333/b.fifo",
				policyTestQueueURL,
				"https://queue.amazonaws.com/111122223333/events", // same queue, legacy form
				"https://sqs.us-west-2.amazonaws.com/111122223333/b.fifo",
				"https://sqs.eu-west-1.amazonaws.com/444455556666/a",
			},
			want: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "SqshookSend",
      "Effect": "Allow",
      "Action": [
        "sqs:GetQueueUrl",
        "sqs:SendMessage",
        "sqs:SendMessageBatch",
        "sqs:GetQueueAttributes"
      ],
      "Resource": [
        "arn:aws:sqs:us-west-2:111122223333:b.fifo",
        "arn:aws:sqs:us-east-1:111122223333:events",
        "arn:aws:sqs:eu-west-1:444455556666:a"
      ]
    }
  ]
}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, err := PermissionPolicy(tt.urls...)
			if err != nil {
				t.Fatalf("PermissionPolicy: got error %v, want nil", err)
			}
			got, err := doc.MarshalIndent()
			if err != nil {
				t.Fatalf("MarshalIndent: got error %v, want nil", err)
			}
			if string(got) != tt.want {
				t.Errorf("MarshalIndent:\ngot  %s\nwant %s", got, tt.want)
			}
			policyCheckRoundTrip(t, doc)
		})
	}
}

func TestPermissionPolicyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		urls   []string
		wantIs error
		want   string
	}{
		{"no queues", nil, ErrInvalidPolicy, "at least one queue URL"},
		{"bad URL", []string{policyTestQueueURL, "https://example.com/111122223333/q"}, ErrInvalidQueueURL, "queue URL 1"},
		{"mixed partitions", []string{policyTestQueueURL, "https://sqs.cn-north-1.amazonaws.com.cn/111122223333/q"}, ErrInvalidPolicy, "one partition"},
	}
	for _, tt := range tests {
		doc, err := PermissionPolicy(tt.urls...)
		if err == nil || !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: PermissionPolicy: got %+v, %v, want an error wrapping %v containing %q", tt.name, doc, err, tt.wantIs, tt.want)
		}
	}
}

// policyDoc wraps statements (JSON objects) in a policy document.
func policyDoc(statements ...string) []byte {
	return []byte(`{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`)
}

// policyStreamStatement is the statement of Stream's documentation.
const policyStreamStatement = `{"Sid":"AllowStreamProdAccount","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::185583345998:root"},
	"Action":"SQS:SendMessage","Resource":"arn:aws:sqs:us-east-1:111122223333:events"}`

// policyAllowAll allows everyone every SQS action on every resource.
const policyAllowAll = `{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*"}`

// Role auth: the constants of the trust and permission policy tests.
const (
	policyTestServerRole = "arn:aws:iam::185583345998:role/chat-server"
	policyTestTenantRole = "arn:aws:iam::111122223333:role/sqshook-sender"
	policyTestExternalID = "tenant-42.a_b+c=d,e@f:g/h-i"
	policyTestKeyARN     = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// policyCompact returns doc's compact JSON, which has no white space outside
// strings: its length is what IAM counts against its size limits.
func policyCompact(t *testing.T, doc PolicyDocument) string {
	t.Helper()
	b, err := policyMarshal(doc)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

func TestTrustPolicyGolden(t *testing.T) {
	t.Parallel()
	doc, err := TrustPolicy(policyTestServerRole, policyTestExternalID)
	if err != nil {
		t.Fatalf("TrustPolicy: got error %v, want nil", err)
	}
	got, err := doc.MarshalIndent()
	if err != nil {
		t.Fatalf("MarshalIndent: %v", err)
	}
	const want = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowSqshookAssumeRole",
      "Effect": "Allow",
      "Principal": {
        "AWS": "arn:aws:iam::185583345998:role/chat-server"
      },
      "Action": "sts:AssumeRole",
      "Condition": {
        "StringEquals": {
          "sts:ExternalId": "tenant-42.a_b+c=d,e@f:g/h-i"
        }
      }
    }
  ]
}`
	if string(got) != want {
		t.Errorf("TrustPolicy:\ngot  %s\nwant %s", got, want)
	}
	policyCheckRoundTrip(t, doc)

	for _, tt := range []struct{ principal, wantCompact string }{
		{"arn:aws:iam::185583345998:user/hooks", `{"Version":"2012-10-17","Statement":[{"Sid":"AllowSqshookAssumeRole","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::185583345998:user/hooks"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"ab"}}}]}`},
		{"arn:aws:iam::185583345998:root", `{"Version":"2012-10-17","Statement":[{"Sid":"AllowSqshookAssumeRole","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::185583345998:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"ab"}}}]}`},
		{"arn:aws-cn:iam::185583345998:role/a/b/chat-server", `{"Version":"2012-10-17","Statement":[{"Sid":"AllowSqshookAssumeRole","Effect":"Allow","Principal":{"AWS":"arn:aws-cn:iam::185583345998:role/a/b/chat-server"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"ab"}}}]}`},
	} {
		doc, err := TrustPolicy(tt.principal, "ab")
		if err != nil {
			t.Errorf("TrustPolicy(%q, \"ab\"): got error %v, want nil", tt.principal, err)
			continue
		}
		if got := policyCompact(t, doc); got != tt.wantCompact {
			t.Errorf("TrustPolicy(%q, \"ab\"):\ngot  %s\nwant %s", tt.principal, got, tt.wantCompact)
		}
		policyCheckRoundTrip(t, doc)
	}
}

func TestTrustPolicyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, principal, externalID, want string
	}{
		{"empty principal", "", "ab", `principal "": is empty; want the server's IAM ARN`},
		{"empty principal hint", "", "ab", "aws sts get-caller-identity"},
		{"everyone", "*", "ab", `principal "*": "*" would let every AWS account assume the role, and the ExternalId is not a secret`},
		{"wildcard role", "arn:aws:iam::185583345998:role/*", "ab", "wildcards are not allowed"},
		{"wildcard account", "arn:aws:iam::18558334599?:root", "ab", "wildcards are not allowed"},
		{"account ID", "185583345998", "ab", "an account ID does not say its partition; write arn:aws:iam::185583345998:root"},
		{"assumed-role session", "arn:aws:sts::185583345998:assumed-role/chat-server/i-0abc", "ab", "is an STS ARN (a session, not an IAM principal); name the role instead (PrincipalFromARN"},
		{"not IAM", "arn:aws:s3:::bucket", "ab", `service "s3" is not iam`},
		{"short account", "arn:aws:iam::1234:role/x", "ab", `account ID "1234" is not 12 digits`},
		{"unknown partition", "arn:aws-xx:iam::185583345998:role/x", "ab", `partition "aws-xx" is not a known AWS partition`},
		{"region", "arn:aws:iam:us-east-1:185583345998:role/x", "ab", "IAM ARNs have no region"},
		{"group", "arn:aws:iam::185583345998:group/x", "ab", `resource "group/x" is not root, user/<name> or role/<name>`},
		{"bad role name", "arn:aws:iam::185583345998:role/a b", "ab", "may hold only letters, digits and +=,.@_-"},
		{"not an ARN", "chat-server", "ab", "want a 12-digit account ID or an IAM ARN"},
		{"empty external ID", policyTestServerRole, "", `external ID "": is required; must be 2 to 1,224 characters of ASCII letters, digits and _+=,.@:/-`},
		{"short external ID", policyTestServerRole, "a", "external ID \"a\": is 1 characters long; it must be 2 to 1,224 characters"},
		{"long external ID", policyTestServerRole, strings.Repeat("x", 1225), "is 1225 characters long; it must be 2 to 1,224"},
		{"external ID space", policyTestServerRole, "tenant 42", `has " " at byte 6; it must be 2 to 1,224 characters of ASCII letters, digits and _+=,.@:/-`},
		{"external ID quote", policyTestServerRole, `a","x":"y`, `has "\"" at byte 1`},
		{"external ID wildcard", policyTestServerRole, "tenant-*", `has "*" at byte 7`},
		{"external ID non-ASCII", policyTestServerRole, "ténant", `has "\xc3" at byte 1`},
		{"external ID newline", policyTestServerRole, "ab\n", `has "\n" at byte 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, err := TrustPolicy(tt.principal, tt.externalID)
			if err == nil {
				t.Fatalf("TrustPolicy(%q, %q): got %+v, nil, want an error containing %q", tt.principal, tt.externalID, doc, tt.want)
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("TrustPolicy: got error %v, want one wrapping ErrInvalidPolicy", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("TrustPolicy(%q, %q): got error %q, want it to contain %q", tt.principal, tt.externalID, err, tt.want)
			}
			if !reflect.DeepEqual(doc, PolicyDocument{}) {
				t.Errorf("TrustPolicy: got %+v with an error, want the zero PolicyDocument", doc)
			}
		})
	}
}

// policyLongestRole returns the longest valid role ARN: the longest
// partition, a 512-character path (with its slashes) and a 64-character
// name. pathChar fills the path.
func policyLongestRole(pathChar string) string {
	path := strings.Repeat(strings.Repeat(pathChar, 9)+"/", 50) // 500 characters
	path += strings.Repeat(pathChar, 10) + "/"                  // 511, and 512 with the leading slash
	return "arn:aws-us-gov:iam::185583345998:role/" + path + strings.Repeat("n", 64)
}

func TestTrustPolicySizeLimit(t *testing.T) {
	t.Parallel()
	role := policyLongestRole("p")
	if _, problem := policyParseIAMPrincipal(role); problem != "" {
		t.Fatalf("the longest role ARN is not valid: %s", problem)
	}
	if _, problem := policyParseIAMPrincipal(strings.Replace(role, "role/", "role/p", 1)); problem == "" {
		t.Fatalf("a role ARN with a 513-character path is valid; the test does not use the longest path")
	}
	id := strings.Repeat("Z", policyExternalIDMax)
	doc, err := TrustPolicy(role, id)
	if err != nil {
		t.Fatalf("TrustPolicy(longest inputs): got error %v, want nil", err)
	}
	compact := policyCompact(t, doc)
	if n := len(compact); n != 2025 || n > policyTrustMaxChars {
		t.Errorf("TrustPolicy(longest inputs): %d characters, want 2025 (≤ %d)", n, policyTrustMaxChars)
	}
	if strings.ContainsAny(compact, " \t\r\n") {
		t.Errorf("compact JSON has white space: %s", compact)
	}
	policyCheckRoundTrip(t, doc)
	back, err := ParsePolicy([]byte(compact))
	if err != nil || back.Statement[0].Principal.AWS[0] != role || back.Statement[0].Condition["StringEquals"]["sts:ExternalId"][0] != id {
		t.Errorf("ParsePolicy(longest trust policy): got %+v, %v", back, err)
	}

	// A path of characters that JSON escapes makes the document too long.
	quoted := policyLongestRole(`"`)
	if _, problem := policyParseIAMPrincipal(quoted); problem != "" {
		t.Fatalf("the quoted role ARN is not valid: %s", problem)
	}
	if _, err := TrustPolicy(quoted, id); err == nil || !errors.Is(err, ErrInvalidPolicy) ||
		!strings.Contains(err.Error(), "more than the 2048 of IAM's default quota for a role trust policy") {
		t.Errorf("TrustPolicy(escaped path, longest ID): got %v, want a size error", err)
	}
	if doc, err := TrustPolicy(quoted, "ab"); err != nil {
		t.Errorf("TrustPolicy(escaped path, short ID): got error %v, want nil", err)
	} else if doc.Statement[0].Principal.AWS[0] != quoted {
		t.Errorf("TrustPolicy(escaped path): principal %q, want %q", doc.Statement[0].Principal.AWS[0], quoted)
	}
}

func TestTrustPolicyEvaluation(t *testing.T) {
	t.Parallel()
	doc, err := TrustPolicy(policyTestServerRole, policyTestExternalID)
	if err != nil {
		t.Fatalf("TrustPolicy: %v", err)
	}
	b, err := doc.MarshalIndent()
	if err != nil {
		t.Fatalf("MarshalIndent: %v", err)
	}
	ext := func(id string) map[string]string { return map[string]string{"sts:ExternalId": id} }
	tests := []struct {
		name string
		req  PolicyRequest
		want Decision
	}{
		{"our principal, our ExternalId", PolicyRequest{policyTestServerRole, "sts:AssumeRole", policyTestTenantRole, ext(policyTestExternalID)}, DecisionAllow},
		{"key name case-insensitive", PolicyRequest{policyTestServerRole, "sts:AssumeRole", policyTestTenantRole, map[string]string{"STS:EXTERNALID": policyTestExternalID}}, DecisionAllow},
		{"action case-insensitive", PolicyRequest{policyTestServerRole, "STS:assumerole", policyTestTenantRole, ext(policyTestExternalID)}, DecisionAllow},
		{"other keys ignored", PolicyRequest{policyTestServerRole, "sts:AssumeRole", policyTestTenantRole, map[string]string{"sts:ExternalId": policyTestExternalID, "aws:PrincipalArn": policyTestServerRole}}, DecisionAllow},
		{"another principal", PolicyRequest{policyTestOther, "sts:AssumeRole", "arn:aws:iam::111122223333:role/sqshook-sender", ext(policyTestExternalID)}, DecisionImplicitDeny},
		{"another role of the server's account", PolicyRequest{"arn:aws:iam::185583345998:role/other", "sts:AssumeRole", policyTestTenantRole, ext(policyTestExternalID)}, DecisionImplicitDeny},
		{"the server's account root", PolicyRequest{"185583345998", "sts:AssumeRole", policyTestTenantRole, ext(policyTestExternalID)}, DecisionImplicitDeny},
		{"another ExternalId", PolicyRequest{policyTestServerRole, "sts:AssumeRole", policyTestTenantRole, ext("tenant-43")}, DecisionImplicitDeny},
		{"ExternalId case differs", PolicyRequest{policyTestServerRole, "sts:AssumeRole", policyTestTenantRole, ext(strings.ToUpper(policyTestExternalID))}, DecisionImplicitDeny},
		{"ExternalId prefix", PolicyRequest{policyTestServerRole, "sts:AssumeRole", policyTestTenantRole, ext("tenant-4")}, DecisionImplicitDeny},
		{"no ExternalId", PolicyRequest{policyTestServerRole, "sts:AssumeRole", policyTestTenantRole, map[string]string{}}, DecisionImplicitDeny},
		{"another action", PolicyRequest{policyTestServerRole, "sts:AssumeRoleWithWebIdentity", policyTestTenantRole, ext(policyTestExternalID)}, DecisionImplicitDeny},
		{"tag session", PolicyRequest{policyTestServerRole, "sts:TagSession", policyTestTenantRole, ext(policyTestExternalID)}, DecisionImplicitDeny},
		{"context unknown", PolicyRequest{policyTestServerRole, "sts:AssumeRole", policyTestTenantRole, nil}, DecisionUndecided},
	}
	for _, tt := range tests {
		got, err := AllowsRequest(b, tt.req)
		if err != nil || got != tt.want {
			t.Errorf("%s: AllowsRequest(trust policy, %+v): got %v, %v, want %v, nil", tt.name, tt.req, got, err, tt.want)
		}
	}
	// Allows, which has no context, cannot decide; it accepts the request.
	if got, err := Allows(b, policyTestServerRole, "sts:AssumeRole", policyTestTenantRole); err != nil || got != DecisionUndecided {
		t.Errorf("Allows(trust policy): got %v, %v, want %v, nil", got, err, DecisionUndecided)
	}
	// A root principal in the trust policy delegates to the server's account.
	root, err := TrustPolicy("arn:aws:iam::185583345998:root", "ab")
	if err != nil {
		t.Fatalf("TrustPolicy(root): %v", err)
	}
	rb, _ := root.MarshalIndent()
	if got, err := AllowsRequest(rb, PolicyRequest{policyTestServerRole, "sts:AssumeRole", policyTestTenantRole, ext("ab")}); err != nil || got != DecisionAllow {
		t.Errorf("AllowsRequest(root trust policy, server role): got %v, %v, want %v, nil", got, err, DecisionAllow)
	}
	if got, err := AllowsRequest(rb, PolicyRequest{policyTestOther, "sts:AssumeRole", policyTestTenantRole, ext("ab")}); err != nil || got != DecisionImplicitDeny {
		t.Errorf("AllowsRequest(root trust policy, other account): got %v, %v, want %v, nil", got, err, DecisionImplicitDeny)
	}
}

func TestRolePermissionPolicyGolden(t *testing.T) {
	t.Parallel()
	const sqsStatement = `{"Sid":"SqshookSend","Effect":"Allow","Action":["sqs:GetQueueUrl","sqs:SendMessage","sqs:SendMessageBatch","sqs:GetQueueAttributes"],"Resource":"arn:aws:sqs:us-east-1:111122223333:events"}`
	tests := []struct {
		name, key, want string
	}{
		{"no key", "", `{"Version":"2012-10-17","Statement":[` + sqsStatement + `]}`},
		{"key ARN", policyTestKeyARN, `{"Version":"2012-10-17","Statement":[` + sqsStatement +
			`,{"Sid":"SqshookKMS","Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"` + policyTestKeyARN + `"}]}`},
		{"multi-Region key in another account and region", "arn:aws:kms:eu-west-1:444455556666:key/mrk-1234abcd12ab34cd56ef1234567890ab", `{"Version":"2012-10-17","Statement":[` + sqsStatement +
			`,{"Sid":"SqshookKMS","Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"arn:aws:kms:eu-west-1:444455556666:key/mrk-1234abcd12ab34cd56ef1234567890ab"}]}`},
		{"alias ARN", "arn:aws:kms:us-east-1:111122223333:alias/team/sqs-events_1", `{"Version":"2012-10-17","Statement":[` + sqsStatement +
			`,{"Sid":"SqshookKMS","Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"arn:aws:kms:us-east-1:111122223333:key/*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/team/sqs-events_1"}}}]}`},
	}
	for _, tt := range tests {
		doc, err := RolePermissionPolicy(policyTestQueueURL, tt.key)
		if err != nil {
			t.Errorf("%s: RolePermissionPolicy: got error %v, want nil", tt.name, err)
			continue
		}
		if got := policyCompact(t, doc); got != tt.want {
			t.Errorf("%s: RolePermissionPolicy:\ngot  %s\nwant %s", tt.name, got, tt.want)
		}
		policyCheckRoundTrip(t, doc)
	}
	plain, _ := PermissionPolicy(policyTestQueueURL)
	if doc, _ := RolePermissionPolicy(policyTestQueueURL, ""); !reflect.DeepEqual(doc, plain) {
		t.Errorf("RolePermissionPolicy(url, \"\"): got %+v, want PermissionPolicy(url) %+v", doc, plain)
	}
	doc, _ := RolePermissionPolicy(policyTestQueueURL, policyTestKeyARN)
	got, _ := doc.MarshalIndent()
	const wantIndent = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "SqshookSend",
      "Effect": "Allow",
      "Action": [
        "sqs:GetQueueUrl",
        "sqs:SendMessage",
        "sqs:SendMessageBatch",
        "sqs:GetQueueAttributes"
      ],
      "Resource": "arn:aws:sqs:us-east-1:111122223333:events"
    },
    {
      "Sid": "SqshookKMS",
      "Effect": "Allow",
      "Action": [
        "kms:GenerateDataKey",
        "kms:Decrypt"
      ],
      "Resource": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    }
  ]
}`
	if string(got) != wantIndent {
		t.Errorf("RolePermissionPolicy MarshalIndent:\ngot  %s\nwant %s", got, wantIndent)
	}
}

func TestRolePermissionPolicyErrors(t *testing.T) {
	t.Parallel()
	const keyID = "1234abcd-12ab-34cd-56ef-1234567890ab"
	tests := []struct {
		name, url, key string
		wantIs         error
		want           string
	}{
		{"bad queue URL", "https://example.com/111122223333/q", "", ErrInvalidQueueURL, "is not an Amazon SQS endpoint"},
		{"bad queue URL with key", "", policyTestKeyARN, ErrInvalidQueueURL, "is empty"},
		{"partition mismatch", policyTestQueueURL, "arn:aws-cn:kms:cn-north-1:111122223333:key/" + keyID, ErrInvalidPolicy, `KMS key ARN "arn:aws-cn:kms:cn-north-1:111122223333:key/` + keyID + `": partition aws-cn is not the queue's partition aws`},
		{"partition mismatch GovCloud queue", "https://sqs.us-gov-west-1.amazonaws.com/111122223333/q", policyTestKeyARN, ErrInvalidPolicy, "partition aws is not the queue's partition aws-us-gov"},
		{"region in another partition", policyTestQueueURL, "arn:aws:kms:cn-north-1:111122223333:key/" + keyID, ErrInvalidPolicy, "region cn-north-1 is in partition aws-cn, not aws"},
		{"unknown partition", policyTestQueueURL, "arn:aws-xx:kms:us-east-1:111122223333:key/" + keyID, ErrInvalidPolicy, `partition "aws-xx" is not a known AWS partition`},
		{"wildcard key", policyTestQueueURL, "arn:aws:kms:us-east-1:111122223333:key/*", ErrInvalidPolicy, "wildcards are not allowed"},
		{"wildcard region", policyTestQueueURL, "arn:aws:kms:*:111122223333:key/" + keyID, ErrInvalidPolicy, "wildcards are not allowed"},
		{"not an ARN", policyTestQueueURL, keyID, ErrInvalidPolicy, "is not an ARN; want arn:<partition>:kms:"},
		{"alias name only", policyTestQueueURL, "alias/sqs", ErrInvalidPolicy, "is not an ARN"},
		{"not KMS", policyTestQueueURL, "arn:aws:sqs:us-east-1:111122223333:key/" + keyID, ErrInvalidPolicy, `service "sqs" is not kms`},
		{"no region", policyTestQueueURL, "arn:aws:kms::111122223333:key/" + keyID, ErrInvalidPolicy, `region "" is not a valid AWS region name`},
		{"short account", policyTestQueueURL, "arn:aws:kms:us-east-1:1111:key/" + keyID, ErrInvalidPolicy, `account ID "1111" is not 12 digits`},
		{"upper-case key ID", policyTestQueueURL, "arn:aws:kms:us-east-1:111122223333:key/" + strings.ToUpper(keyID), ErrInvalidPolicy, "is not a lowercase UUID"},
		{"short key ID", policyTestQueueURL, "arn:aws:kms:us-east-1:111122223333:key/1234", ErrInvalidPolicy, "is not a lowercase UUID"},
		{"short mrk key ID", policyTestQueueURL, "arn:aws:kms:us-east-1:111122223333:key/mrk-1234", ErrInvalidPolicy, "multi-Region key ID"},
		{"empty key ID", policyTestQueueURL, "arn:aws:kms:us-east-1:111122223333:key/", ErrInvalidPolicy, "is not a lowercase UUID"},
		{"AWS managed alias", policyTestQueueURL, "arn:aws:kms:us-east-1:111122223333:alias/aws/sqs", ErrInvalidPolicy, "is an AWS managed key's alias"},
		{"empty alias", policyTestQueueURL, "arn:aws:kms:us-east-1:111122223333:alias/", ErrInvalidPolicy, "alias name is empty"},
		{"alias characters", policyTestQueueURL, "arn:aws:kms:us-east-1:111122223333:alias/a.b", ErrInvalidPolicy, "may hold only letters, digits, '/', '_' and '-'"},
		{"alias too long", policyTestQueueURL, "arn:aws:kms:us-east-1:111122223333:alias/" + strings.Repeat("a", 251), ErrInvalidPolicy, "longer than 256 characters"},
		{"other KMS resource", policyTestQueueURL, "arn:aws:kms:us-east-1:111122223333:grant/x", ErrInvalidPolicy, `resource "grant/x" is neither key/<key-id> nor alias/<alias-name>`},
		{"too long", policyTestQueueURL, "arn:aws:kms:us-east-1:111122223333:alias/" + strings.Repeat("a", 2100), ErrInvalidPolicy, "longer than 2048 bytes"},
	}
	for _, tt := range tests {
		doc, err := RolePermissionPolicy(tt.url, tt.key)
		if err == nil || !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: RolePermissionPolicy(%q, %q): got %v, want an error wrapping %v containing %q", tt.name, tt.url, tt.key, err, tt.wantIs, tt.want)
		}
		if !reflect.DeepEqual(doc, PolicyDocument{}) {
			t.Errorf("%s: got %+v with an error, want the zero PolicyDocument", tt.name, doc)
		}
	}
}

func TestRolePermissionPolicySizeLimit(t *testing.T) {
	t.Parallel()
	queue := "https://sqs-fips.us-gov-west-1.amazonaws.com/123456789012/" + strings.Repeat("q", 75) + ".fifo"
	for _, key := range []string{
		"arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/" + strings.Repeat("a", 250), // the longest alias
		"arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
	} {
		doc, err := RolePermissionPolicy(queue, key)
		if err != nil {
			t.Fatalf("RolePermissionPolicy(longest inputs, %q): got error %v, want nil", key, err)
		}
		compact := policyCompact(t, doc)
		if n := len(compact); n > policyIdentityMaxChars || n > 1000 {
			t.Errorf("RolePermissionPolicy(longest inputs): %d characters, want at most 1000 (the limit is %d)", n, policyIdentityMaxChars)
		}
		policyCheckRoundTrip(t, doc)
	}
	if _, err := RolePermissionPolicy(queue, "arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/"+strings.Repeat("a", 251)); err == nil {
		t.Errorf("RolePermissionPolicy(257-character alias): got nil error, want one")
	}
}

func TestRolePermissionPolicyEvaluation(t *testing.T) {
	t.Parallel()
	doc, err := RolePermissionPolicy(policyTestQueueURL, policyTestKeyARN)
	if err != nil {
		t.Fatalf("RolePermissionPolicy: %v", err)
	}
	b, _ := doc.MarshalIndent()
	tests := []struct {
		action, resource string
		want             Decision
	}{
		{"sqs:SendMessage", policyTestQueueARN, DecisionAllow},
		{"sqs:SendMessageBatch", policyTestQueueARN, DecisionAllow},
		{"sqs:GetQueueAttributes", policyTestQueueARN, DecisionAllow},
		{"kms:GenerateDataKey", policyTestKeyARN, DecisionAllow},
		{"kms:Decrypt", policyTestKeyARN, DecisionAllow},
		{"sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:other", DecisionImplicitDeny},
		{"sqs:SendMessage", "arn:aws:sqs:us-east-1:999999999999:events", DecisionImplicitDeny},
		{"sqs:ReceiveMessage", policyTestQueueARN, DecisionImplicitDeny},
		{"sqs:DeleteMessage", policyTestQueueARN, DecisionImplicitDeny},
		{"kms:Encrypt", policyTestKeyARN, DecisionImplicitDeny},
		{"kms:GenerateDataKey", "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000", DecisionImplicitDeny},
		{"kms:GenerateDataKey", policyTestQueueARN, DecisionImplicitDeny},
	}
	for _, tt := range tests {
		got, err := IdentityAllows(b, tt.action, tt.resource)
		if err != nil || got != tt.want {
			t.Errorf("IdentityAllows(role permission policy, %q, %q): got %v, %v, want %v, nil", tt.action, tt.resource, got, err, tt.want)
		}
	}
	// With an alias, the key grant depends on the key's aliases (a set
	// condition), which IdentityAllows cannot decide; other keys' accounts
	// and regions are still out.
	alias, err := RolePermissionPolicy(policyTestQueueURL, "arn:aws:kms:us-east-1:111122223333:alias/events")
	if err != nil {
		t.Fatalf("RolePermissionPolicy(alias): %v", err)
	}
	ab, _ := alias.MarshalIndent()
	for _, tt := range []struct {
		action, resource string
		want             Decision
	}{
		{"kms:GenerateDataKey", policyTestKeyARN, DecisionUndecided},
		{"kms:GenerateDataKey", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", DecisionImplicitDeny},
		{"kms:GenerateDataKey", "arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab", DecisionImplicitDeny},
		{"sqs:SendMessage", policyTestQueueARN, DecisionAllow},
	} {
		got, err := IdentityAllows(ab, tt.action, tt.resource)
		if err != nil || got != tt.want {
			t.Errorf("IdentityAllows(alias permission policy, %q, %q): got %v, %v, want %v, nil", tt.action, tt.resource, got, err, tt.want)
		}
	}
}

// ResourcePolicy's output fits SQS's policy limit whatever the inputs, or
// it is refused.
func TestResourcePolicyStaysUnderTheSQSLimit(t *testing.T) {
	url := "https://sqs.us-east-1.amazonaws.com/123456789012/" + strings.Repeat("q", 80)
	path := strings.Repeat("p/", 250)
	principal := "arn:aws:iam::185583345998:role/" + path + strings.Repeat("r", 64)
	sourceArn := "arn:aws:sns:us-east-1:123456789012:" + strings.Repeat("t", 1900)
	doc, err := ResourcePolicy(url, principal, ResourcePolicyOptions{
		Sid: strings.Repeat("S", 128), SourceAccount: "123456789012", SourceArn: sourceArn, PrincipalOrgID: "o-" + strings.Repeat("a", 32),
	})
	if err != nil {
		if !strings.Contains(err.Error(), "SQS accepts at most 8192") {
			t.Fatalf("error %v", err)
		}
		return
	}
	b, _ := json.Marshal(doc)
	if len(b) > MaxQueuePolicyBytes {
		t.Errorf("policy of %d bytes, over SQS's %d", len(b), MaxQueuePolicyBytes)
	}
	t.Logf("largest queue policy: %d bytes", len(b))
}
