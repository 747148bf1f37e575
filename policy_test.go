package sqshook

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
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

func TestParseQueueURLForms(t *testing.T) {
	t.Parallel()
	name80 := strings.Repeat("q", 75) + ".fifo"
	tests := []struct {
		name    string
		url     string
		want    QueueURL // Raw is filled in from url
		wantARN string
	}{
		{"standard", "https://sqs.us-east-1.amazonaws.com/111122223333/events",
			QueueURL{Partition: "aws", Region: "us-east-1", AccountID: "111122223333", Name: "events"},
			"arn:aws:sqs:us-east-1:111122223333:events"},
		{"standard other region", "https://sqs.ap-southeast-2.amazonaws.com/111122223333/my_queue-1",
			QueueURL{Partition: "aws", Region: "ap-southeast-2", AccountID: "111122223333", Name: "my_queue-1"},
			"arn:aws:sqs:ap-southeast-2:111122223333:my_queue-1"},
		{"upper-case scheme and host, name case kept", "HTTPS://SQS.EU-WEST-1.AMAZONAWS.COM/111122223333/Events",
			QueueURL{Partition: "aws", Region: "eu-west-1", AccountID: "111122223333", Name: "Events"},
			"arn:aws:sqs:eu-west-1:111122223333:Events"},
		{"legacy us-east-1", "https://queue.amazonaws.com/111122223333/events",
			QueueURL{Partition: "aws", Region: "us-east-1", AccountID: "111122223333", Name: "events"},
			"arn:aws:sqs:us-east-1:111122223333:events"},
		{"legacy regional", "https://eu-west-1.queue.amazonaws.com/111122223333/events",
			QueueURL{Partition: "aws", Region: "eu-west-1", AccountID: "111122223333", Name: "events"},
			"arn:aws:sqs:eu-west-1:111122223333:events"},
		{"China", "https://sqs.cn-north-1.amazonaws.com.cn/111122223333/events",
			QueueURL{Partition: "aws-cn", Region: "cn-north-1", AccountID: "111122223333", Name: "events"},
			"arn:aws-cn:sqs:cn-north-1:111122223333:events"},
		{"China Ningxia", "https://sqs.cn-northwest-1.amazonaws.com.cn/111122223333/events",
			QueueURL{Partition: "aws-cn", Region: "cn-northwest-1", AccountID: "111122223333", Name: "events"},
			"arn:aws-cn:sqs:cn-northwest-1:111122223333:events"},
		{"GovCloud", "https://sqs.us-gov-west-1.amazonaws.com/111122223333/events",
			QueueURL{Partition: "aws-us-gov", Region: "us-gov-west-1", AccountID: "111122223333", Name: "events"},
			"arn:aws-us-gov:sqs:us-gov-west-1:111122223333:events"},
		{"GovCloud FIPS", "https://sqs-fips.us-gov-east-1.amazonaws.com/111122223333/events",
			QueueURL{Partition: "aws-us-gov", Region: "us-gov-east-1", AccountID: "111122223333", Name: "events", FIPS: true},
			"arn:aws-us-gov:sqs:us-gov-east-1:111122223333:events"},
		{"FIPS", "https://sqs-fips.us-east-1.amazonaws.com/111122223333/events",
			QueueURL{Partition: "aws", Region: "us-east-1", AccountID: "111122223333", Name: "events", FIPS: true},
			"arn:aws:sqs:us-east-1:111122223333:events"},
		{"FIPS Canada", "https://sqs-fips.ca-central-1.amazonaws.com/111122223333/events",
			QueueURL{Partition: "aws", Region: "ca-central-1", AccountID: "111122223333", Name: "events", FIPS: true},
			"arn:aws:sqs:ca-central-1:111122223333:events"},
		{"FIFO", "https://sqs.us-east-2.amazonaws.com/111122223333/events.fifo",
			QueueURL{Partition: "aws", Region: "us-east-2", AccountID: "111122223333", Name: "events.fifo", FIFO: true},
			"arn:aws:sqs:us-east-2:111122223333:events.fifo"},
		{"FIFO name of 80 characters", "https://sqs.us-east-1.amazonaws.com/111122223333/" + name80,
			QueueURL{Partition: "aws", Region: "us-east-1", AccountID: "111122223333", Name: name80, FIFO: true},
			"arn:aws:sqs:us-east-1:111122223333:" + name80},
		{"one-character name", "https://sqs.us-east-1.amazonaws.com/000000000000/q",
			QueueURL{Partition: "aws", Region: "us-east-1", AccountID: "000000000000", Name: "q"},
			"arn:aws:sqs:us-east-1:000000000000:q"},
		{"VPC endpoint", "https://vpce-0a1b2c3d4e5f-abcdefgh.sqs.us-east-1.vpce.amazonaws.com/111122223333/events",
			QueueURL{Partition: "aws", Region: "us-east-1", AccountID: "111122223333", Name: "events", VPCEndpoint: true},
			"arn:aws:sqs:us-east-1:111122223333:events"},
		{"VPC endpoint zonal", "https://vpce-0a1b2c3d4e5f-abcdefgh-us-east-1a.sqs.us-east-1.vpce.amazonaws.com/111122223333/events",
			QueueURL{Partition: "aws", Region: "us-east-1", AccountID: "111122223333", Name: "events", VPCEndpoint: true},
			"arn:aws:sqs:us-east-1:111122223333:events"},
		{"VPC endpoint 17-digit id", "https://vpce-0123456789abcdef0-x1y2z3w4.sqs.eu-central-1.vpce.amazonaws.com/111122223333/e.fifo",
			QueueURL{Partition: "aws", Region: "eu-central-1", AccountID: "111122223333", Name: "e.fifo", FIFO: true, VPCEndpoint: true},
			"arn:aws:sqs:eu-central-1:111122223333:e.fifo"},
		{"VPC endpoint China", "https://vpce-0a1b2c3d-abcdefgh.sqs.cn-north-1.vpce.amazonaws.com.cn/111122223333/events",
			QueueURL{Partition: "aws-cn", Region: "cn-north-1", AccountID: "111122223333", Name: "events", VPCEndpoint: true},
			"arn:aws-cn:sqs:cn-north-1:111122223333:events"},
		{"dual-stack", "https://sqs.us-east-1.api.aws/111122223333/events",
			QueueURL{Partition: "aws", Region: "us-east-1", AccountID: "111122223333", Name: "events", DualStack: true},
			"arn:aws:sqs:us-east-1:111122223333:events"},
		{"dual-stack FIPS", "https://sqs-fips.us-east-2.api.aws/111122223333/events",
			QueueURL{Partition: "aws", Region: "us-east-2", AccountID: "111122223333", Name: "events", DualStack: true, FIPS: true},
			"arn:aws:sqs:us-east-2:111122223333:events"},
		{"dual-stack GovCloud", "https://sqs.us-gov-west-1.api.aws/111122223333/events",
			QueueURL{Partition: "aws-us-gov", Region: "us-gov-west-1", AccountID: "111122223333", Name: "events", DualStack: true},
			"arn:aws-us-gov:sqs:us-gov-west-1:111122223333:events"},
		{"dual-stack China", "https://sqs.cn-north-1.api.amazonwebservices.com.cn/111122223333/events",
			QueueURL{Partition: "aws-cn", Region: "cn-north-1", AccountID: "111122223333", Name: "events", DualStack: true},
			"arn:aws-cn:sqs:cn-north-1:111122223333:events"},
		{"ISO", "https://sqs.us-iso-east-1.c2s.ic.gov/111122223333/events",
			QueueURL{Partition: "aws-iso", Region: "us-iso-east-1", AccountID: "111122223333", Name: "events"},
			"arn:aws-iso:sqs:us-iso-east-1:111122223333:events"},
		{"ISO-B", "https://sqs.us-isob-east-1.sc2s.sgov.gov/111122223333/events",
			QueueURL{Partition: "aws-iso-b", Region: "us-isob-east-1", AccountID: "111122223333", Name: "events"},
			"arn:aws-iso-b:sqs:us-isob-east-1:111122223333:events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseQueueURL(tt.url)
			if err != nil {
				t.Fatalf("ParseQueueURL(%q): got error %v, want nil", tt.url, err)
			}
			want := tt.want
			want.Raw = tt.url
			if got != want {
				t.Errorf("ParseQueueURL(%q):\ngot  %+v\nwant %+v", tt.url, got, want)
			}
			if arn := got.ARN(); arn != tt.wantARN {
				t.Errorf("ARN(): got %q, want %q", arn, tt.wantARN)
			}
			if arn, err := QueueARN(tt.url); err != nil || arn != tt.wantARN {
				t.Errorf("QueueARN(%q): got %q, %v, want %q, nil", tt.url, arn, err, tt.wantARN)
			}
			parts, err := ParseQueueARN(tt.wantARN)
			if err != nil {
				t.Fatalf("ParseQueueARN(%q): got error %v, want nil", tt.wantARN, err)
			}
			wantParts := QueueARNParts{Partition: want.Partition, Region: want.Region, AccountID: want.AccountID, Name: want.Name, FIFO: want.FIFO}
			if parts != wantParts {
				t.Errorf("ParseQueueARN(%q): got %+v, want %+v", tt.wantARN, parts, wantParts)
			}
			if s := parts.String(); s != tt.wantARN {
				t.Errorf("QueueARNParts.String(): got %q, want %q", s, tt.wantARN)
			}
		})
	}
}

func TestParseQueueURLRejects(t *testing.T) {
	t.Parallel()
	const host = "https://sqs.us-east-1.amazonaws.com"
	tests := []struct {
		name, url, want string
	}{
		{"empty", "", "is empty"},
		{"http", "http://sqs.us-east-1.amazonaws.com/111122223333/q", "scheme is http"},
		{"other scheme", "sqs://sqs.us-east-1.amazonaws.com/111122223333/q", `scheme "sqs" is not https`},
		{"no scheme", "sqs.us-east-1.amazonaws.com/111122223333/q", "has no scheme"},
		{"no host", "https:///111122223333/q", "has no host"},
		{"other host", "https://example.com/111122223333/q", "is not an Amazon SQS endpoint"},
		{"other service", "https://sns.us-east-1.amazonaws.com/111122223333/q", "is not an Amazon SQS endpoint"},
		{"look-alike suffix", "https://sqs.us-east-1.amazonaws.com.example.com/111122223333/q", "is not an Amazon SQS endpoint"},
		{"look-alike domain", "https://sqs.us-east-1.notamazonaws.com/111122223333/q", "is not an Amazon SQS endpoint"},
		{"no region", "https://sqs.amazonaws.com/111122223333/q", "is not an Amazon SQS endpoint"},
		{"extra host label", "https://x.sqs.us-east-1.amazonaws.com/111122223333/q", "is not an Amazon SQS endpoint"},
		{"legacy dual-stack", "https://us-east-1.queue.api.aws/111122223333/q", "is not an Amazon SQS endpoint"},
		{"IPv4", "https://127.0.0.1/111122223333/q", "is not an Amazon SQS endpoint"},
		{"IPv6", "https://[::1]/111122223333/q", "IP address"},
		{"localhost emulator", "https://localhost/111122223333/q", "is not an Amazon SQS endpoint"},
		{"port", host + ":443/111122223333/q", "has a port"},
		{"empty port", host + ":/111122223333/q", "has a port"},
		{"user info", "https://user:pass@sqs.us-east-1.amazonaws.com/111122223333/q", "user information"},
		{"query", host + "/111122223333/q?Action=SendMessage", "query string"},
		{"empty query", host + "/111122223333/q?", "query string"},
		{"fragment", host + "/111122223333/q#x", "fragment"},
		{"trailing dot host", "https://sqs.us-east-1.amazonaws.com./111122223333/q", "ends in a dot"},
		{"no path", host, "has no path"},
		{"root path", host + "/", "has no path"},
		{"empty account", host + "//q", "empty account ID"},
		{"short account", host + "/11112222333/q", `account ID "11112222333" is not 12 digits`},
		{"long account", host + "/1111222233334/q", "is not 12 digits"},
		{"account with letters", host + "/11112222333x/q", "is not 12 digits"},
		{"account with dashes", host + "/1111-2222-3333/q", "is not 12 digits"},
		{"no queue name", host + "/111122223333", "no queue name"},
		{"no queue name, slash", host + "/111122223333/", "no queue name"},
		{"trailing slash", host + "/111122223333/q/", "trailing slash or extra path segments"},
		{"extra segment", host + "/111122223333/q/extra", "trailing slash or extra path segments"},
		{"name too long", host + "/111122223333/" + strings.Repeat("q", 81), "81 characters long; the limit is 80"},
		{"FIFO name too long", host + "/111122223333/" + strings.Repeat("q", 76) + ".fifo", "81 characters long"},
		{"dot in name", host + "/111122223333/my.queue", `has "."`},
		{"upper-case FIFO suffix", host + "/111122223333/q.FIFO", `has "."`},
		{"only .fifo", host + "/111122223333/.fifo", `nothing before ".fifo"`},
		{"percent-encoding", host + "/111122223333/q%41", `has "%"`},
		{"space", host + "/111122223333/my queue", "white space"},
		{"tab", host + "/111122223333/q\t", "white space"},
		{"non-ASCII", host + "/111122223333/qé", "non-ASCII"},
		{"bad region", "https://sqs.useast1.amazonaws.com/111122223333/q", `region "useast1"`},
		{"bad region number", "https://sqs.us-east-one.amazonaws.com/111122223333/q", "not a valid AWS region name"},
		{"China region, global domain", "https://sqs.cn-north-1.amazonaws.com/111122223333/q", "partition aws-cn, whose SQS endpoints end in .amazonaws.com.cn"},
		{"global region, China domain", "https://sqs.us-east-1.amazonaws.com.cn/111122223333/q", "partition aws, whose SQS endpoints end in .amazonaws.com"},
		{"FIPS outside US", "https://sqs-fips.eu-west-1.amazonaws.com/111122223333/q", "has no FIPS endpoint"},
		{"FIPS China", "https://sqs-fips.cn-north-1.amazonaws.com.cn/111122223333/q", "has no FIPS endpoint"},
		{"unsupported isolated partition", "https://sqs.us-isof-south-1.amazonaws.com/111122223333/q", "isolated partition"},
		{"ISO dual-stack", "https://sqs.us-iso-east-1.api.aws/111122223333/q", "no dual-stack"},
		{"VPC endpoint without vpce- label", "https://abc.sqs.us-east-1.vpce.amazonaws.com/111122223333/q", "VPC endpoint label"},
		{"VPC endpoint short id", "https://vpce-0a1b-abcdefgh.sqs.us-east-1.vpce.amazonaws.com/111122223333/q", "VPC endpoint label"},
		{"VPC endpoint non-hex id", "https://vpce-0a1b2c3z4e5f-abcdefgh.sqs.us-east-1.vpce.amazonaws.com/111122223333/q", "VPC endpoint label"},
		{"VPC endpoint no suffix", "https://vpce-0a1b2c3d4e5f.sqs.us-east-1.vpce.amazonaws.com/111122223333/q", "VPC endpoint label"},
		{"VPC endpoint wrong zone", "https://vpce-0a1b2c3d4e5f-abcdefgh-us-west-2a.sqs.us-east-1.vpce.amazonaws.com/111122223333/q", "not a zone of region us-east-1"},
		{"VPC endpoint FIPS", "https://vpce-0a1b2c3d4e5f-abcdefgh.sqs-fips.us-east-1.vpce.amazonaws.com/111122223333/q", "is not an Amazon SQS endpoint"},
		{"too long", host + "/111122223333/" + strings.Repeat("q", 3000), "longer than 2048 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseQueueURL(tt.url)
			if err == nil {
				t.Fatalf("ParseQueueURL(%q): got %+v, nil, want an error containing %q", tt.url, got, tt.want)
			}
			if !errors.Is(err, ErrInvalidQueueURL) {
				t.Errorf("ParseQueueURL(%q): got error %v, want one wrapping ErrInvalidQueueURL", tt.url, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseQueueURL(%q): got error %q, want it to contain %q", tt.url, err, tt.want)
			}
			if got != (QueueURL{}) {
				t.Errorf("ParseQueueURL(%q): got %+v with the error, want the zero QueueURL", tt.url, got)
			}
			if arn, err := QueueARN(tt.url); err == nil || arn != "" || !errors.Is(err, ErrInvalidQueueURL) {
				t.Errorf("QueueARN(%q): got %q, %v, want \"\" and an ErrInvalidQueueURL error", tt.url, arn, err)
			}
		})
	}
}

func TestParseQueueURLRedactsUserinfo(t *testing.T) {
	t.Parallel()
	_, err := ParseQueueURL("https://AKIDEXAMPLE:s3cr3t@sqs.us-east-1.amazonaws.com/111122223333/q")
	if err == nil {
		t.Fatal("ParseQueueURL with user information: got nil error, want one")
	}
	if msg := err.Error(); strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "AKIDEXAMPLE") ||
		!strings.Contains(msg, `"https://REDACTED@sqs.us-east-1.amazonaws.com/111122223333/q"`) {
		t.Errorf("ParseQueueURL with user information: got error %q, want the user information replaced by REDACTED", msg)
	}
}

func TestParseQueueARNRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		arn, want string
	}{
		{"", "is not of the form"},
		{"arn:aws:sqs:us-east-1:111122223333", "is not of the form"},
		{"arn:aws:sqs:us-east-1:111122223333:q:extra", "is not of the form"},
		{"urn:aws:sqs:us-east-1:111122223333:q", "is not of the form"},
		{"arn:aws:sns:us-east-1:111122223333:q", `service "sns" is not sqs`},
		{"arn:aws:SQS:us-east-1:111122223333:q", `service "SQS" is not sqs`},
		{"arn:amazon:sqs:us-east-1:111122223333:q", "not a known AWS partition"},
		{"arn:aws:sqs::111122223333:q", "not a valid AWS region name"},
		{"arn:aws:sqs:*:111122223333:q", "not a valid AWS region name"},
		{"arn:aws:sqs:cn-north-1:111122223333:q", "is in partition aws-cn, not aws"},
		{"arn:aws-cn:sqs:us-east-1:111122223333:q", "is in partition aws, not aws-cn"},
		{"arn:aws:sqs:us-east-1:*:q", "is not 12 digits"},
		{"arn:aws:sqs:us-east-1:111122223333:*", `has "*"`},
		{"arn:aws:sqs:us-east-1:111122223333:", "queue name is empty"},
		{"arn:aws:sqs:us-east-1:111122223333:" + strings.Repeat("q", 81), "81 characters long"},
	}
	for _, tt := range tests {
		got, err := ParseQueueARN(tt.arn)
		if err == nil || !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseQueueARN(%q): got %+v, %v, want an ErrInvalidPolicy error containing %q", tt.arn, got, err, tt.want)
		}
	}
}

func TestQueueURLZeroValue(t *testing.T) {
	t.Parallel()
	if got := (QueueURL{}).ARN(); got != "" {
		t.Errorf("QueueURL{}.ARN(): got %q, want \"\"", got)
	}
	if got := (QueueARNParts{}).String(); got != "" {
		t.Errorf("QueueARNParts{}.String(): got %q, want \"\"", got)
	}
}

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

// policyDoc wraps statements (JSON objects) in a policy document.
func policyDoc(statements ...string) []byte {
	return []byte(`{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`)
}

// policyStreamStatement is the statement of Stream's documentation.
const policyStreamStatement = `{"Sid":"AllowStreamProdAccount","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::185583345998:root"},
	"Action":"SQS:SendMessage","Resource":"arn:aws:sqs:us-east-1:111122223333:events"}`

// policyAllowAll allows everyone every SQS action on every resource.
const policyAllowAll = `{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*"}`

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

// ---------------------------------------------------------------------------
// Role auth: trust and permission policies, conditions

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
