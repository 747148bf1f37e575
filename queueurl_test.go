// queueurl_test.go tests parsing queue URLs and ARNs.

package sqshook

import (
	"errors"
	"strings"
	"testing"
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
