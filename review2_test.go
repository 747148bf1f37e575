package sqshook_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sqshook/sqshook"
)

// A "role" hook whose sqs_role_arn changes (same id) must get a new
// pipeline and client: otherwise it keeps sending with the old role's
// credentials.
func TestReview2SetHooksRoleARNChangeRebuildsClient(t *testing.T) {
	fakes := map[string]*fakeSQS{}
	var mu sync.Mutex
	fakeFor := func(arn string) *fakeSQS {
		mu.Lock()
		defer mu.Unlock()
		if fakes[arn] == nil {
			fakes[arn] = newFake()
		}
		return fakes[arn]
	}
	const roleA = "arn:aws:iam::123456789012:role/sender-a"
	const roleB = "arn:aws:iam::123456789012:role/sender-b"
	hook := func(arn string) sqshook.Hook {
		h := hookFor("h", "q")
		h.SQSAuthType, h.SQSRoleARN = sqshook.AuthRole, arn
		return h
	}
	d, _ := newTestDispatcher(t, nil, []sqshook.Hook{hook(roleA)},
		sqshook.WithExternalID("tenant-1"),
		sqshook.WithClientFunc(func(_ context.Context, h sqshook.Hook) (sqshook.SQSAPI, error) {
			return fakeFor(h.SQSRoleARN), nil
		}))
	if err := d.SetHooks([]sqshook.Hook{hook(roleB)}); err != nil {
		t.Fatal(err)
	}
	if got := d.Hooks()[0].SQSRoleARN; got != roleB {
		t.Fatalf("Hooks() role = %s, want %s", got, roleB)
	}
	if err := d.Publish(context.Background(), event(t, "message.new", 1)); err != nil {
		t.Fatal(err)
	}
	flush(t, d)
	if n := fakeFor(roleA).callCount(); n != 0 {
		t.Errorf("%d calls sent with the old role %s after SetHooks changed it to %s", n, roleA, roleB)
	}
	if n := fakeFor(roleB).callCount(); n != 1 {
		t.Errorf("%d calls sent with the new role, want 1", n)
	}
}

// SQS lists failed entries in any order (and an entry may be missing from
// the response): the retried entries of a FIFO group must still go back in
// the group's order.
func TestReview2FIFORetryKeepsOrderWhateverTheResponseOrder(t *testing.T) {
	for _, c := range []struct {
		name    string
		respond func(in *sqsInput) *sqsOutput
	}{
		{"failed entries listed last first", func(in *sqsInput) *sqsOutput {
			out := &sqs.SendMessageBatchOutput{}
			for i := len(in.Entries) - 1; i >= 0; i-- {
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: in.Entries[i].Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			}
			return out
		}},
		{"first entry missing, second failed", func(in *sqsInput) *sqsOutput {
			out := &sqs.SendMessageBatchOutput{}
			for _, e := range in.Entries[1:] {
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			}
			return out
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newFake()
			fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
				if call == 1 {
					return c.respond(in), nil
				}
				return okAll(in), nil
			}
			d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q.fifo")},
				sqshook.WithLinger(time.Hour), sqshook.WithMaxInFlight(1))
			var want []string
			for i := 0; i < 3; i++ {
				ev := sqshook.Event{Type: "message.new", Body: []byte(fmt.Sprintf(`{"n":%d}`, i)), GroupID: "g", ID: fmt.Sprintf("ev-%d", i)}
				want = append(want, ev.ID)
				if err := d.Publish(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
			}
			flush(t, d) // one batch of three, then the retry
			got := fake.ackedIDs("https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo")
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("group g delivered in the order %v, want %v", got, want)
			}
			if n := len(dls.list()); n != 0 {
				t.Errorf("%d dead letters", n)
			}
			checkAccounting(t, d, true)
		})
	}
}
