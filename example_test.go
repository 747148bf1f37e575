package sqshook_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

func ExampleParseHooks() {
	hooks, err := sqshook.ParseHooks([]byte(`{"event_hooks": [
		{"enabled": true, "hook_type": "sqs",
		 "sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/MyQueue",
		 "sqs_region": "us-east-1", "sqs_auth_type": "keys",
		 "sqs_key": "AKIAIOSFODNN7EXAMPLE", "sqs_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		 "event_types": []},
		{"enabled": true, "hook_type": "webhook"}
	]}`))
	if err != nil {
		log.Fatal(err)
	}
	_, err = sqshook.ValidateHooks(hooks, sqshook.ValidateOptions{})
	var ve *sqshook.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Println(p)
		}
	}
	fmt.Println(hooks[0].SQSSecret == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	fmt.Printf("%v\n", hooks[0].Redacted().SQSSecret)
	// Output:
	// hooks[1].hook_type: "webhook" hooks are not delivered by this library; only "sqs"
	// hooks[1].sqs_queue_url: required
	// hooks[1].sqs_region: required
	// hooks[1].sqs_auth_type: required; must be "keys", "resource" or "role"
	// true
	// [REDACTED]
}

func ExampleCompileFilter() {
	f, err := sqshook.CompileFilter([]string{"message.*", "user.banned"})
	if err != nil {
		log.Fatal(err)
	}
	for _, ev := range []string{"message.new", "message.updated", "user.banned", "reaction.new"} {
		fmt.Println(ev, f.Match(ev))
	}
	// Output:
	// message.new true
	// message.updated true
	// user.banned true
	// reaction.new false
}

func ExampleSizeGuard_Prepare() {
	g := sqshook.SizeGuard{MaxMessageBytes: 64}
	body, err := g.Prepare([]byte("{\"text\":\"bell\x07\"}"), nil)
	fmt.Println(body, err)

	_, err = g.Prepare([]byte(`{"text":"this chat message is longer than the sixty-four bytes."}`), nil)
	var ge *sqshook.GuardError
	if errors.As(err, &ge) {
		fmt.Println(ge.Reason, ge.Bytes, ge.Max)
	}
	// Output:
	// {"text":"bell\u0007"} <nil>
	// too_large 65 64
}

func ExampleDecodeBody() {
	sent, _ := sqshook.SizeGuard{Encoding: sqshook.EncodingGzip}.Prepare([]byte(`{"type":"message.new"}`), nil)
	event, err := sqshook.DecodeBody(sent)
	fmt.Println(string(event), err)
	// Output:
	// {"type":"message.new"} <nil>
}

func ExampleResourcePolicy() {
	doc, err := sqshook.ResourcePolicy(
		"https://sqs.us-west-2.amazonaws.com/111111111111/customer-sqs-for-stream",
		"185583345998",
		sqshook.ResourcePolicyOptions{},
	)
	if err != nil {
		log.Fatal(err)
	}
	js, _ := doc.MarshalIndent()
	fmt.Println(string(js))
	// Output:
	// {
	//   "Version": "2012-10-17",
	//   "Statement": [
	//     {
	//       "Sid": "AllowSqshookSend",
	//       "Effect": "Allow",
	//       "Principal": {
	//         "AWS": "arn:aws:iam::185583345998:root"
	//       },
	//       "Action": "SQS:SendMessage",
	//       "Resource": "arn:aws:sqs:us-west-2:111111111111:customer-sqs-for-stream"
	//     }
	//   ]
	// }
}

func ExampleAllows() {
	policy := []byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"185583345998"},"Action":"sqs:Send*","Resource":"arn:aws:sqs:us-west-2:111111111111:*"},
		{"Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"arn:aws:sqs:us-west-2:111111111111:private"}]}`)
	for _, queue := range []string{"events", "private"} {
		d, err := sqshook.Allows(policy, "arn:aws:iam::185583345998:role/chat-server", "sqs:SendMessage", "arn:aws:sqs:us-west-2:111111111111:"+queue)
		fmt.Println(queue, d, err)
	}
	// Output:
	// events allow <nil>
	// private explicit deny <nil>
}

func ExampleNew() {
	hooks, err := sqshook.ParseHooks([]byte(`[{"enabled": true, "hook_type": "sqs",
		"sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/MyQueue",
		"sqs_region": "us-east-1", "sqs_auth_type": "resource",
		"event_types": ["message.*"]}]`))
	if err != nil {
		log.Fatal(err)
	}
	d, err := sqshook.New(hooks,
		sqshook.WithLinger(20*time.Millisecond),
		sqshook.WithDeadLetter(func(dl sqshook.DeadLetter) {
			log.Printf("hook %s: %s %s: %s %s", dl.HookID, dl.Event.Type, dl.Event.ID, dl.Reason, dl.Code)
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close(context.Background())
	// … d.Publish(ctx, event) for every chat event …
}

func ExampleDispatcher_Publish() {
	var d *sqshook.Dispatcher // from sqshook.New
	ev, err := sqshook.NewEvent("message.new", map[string]any{
		"type": "message.new",
		"cid":  "messaging:general",
		"message": map[string]any{
			"id":   "8bffc454-e1da-4d91-8b88-a87853dfb41c",
			"text": "Welcome to the Community!",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// Waits at most a second for room in a full hook queue.
	if err := d.Publish(ctx, ev); err != nil {
		var de *sqshook.DeliveryError
		if errors.As(err, &de) {
			log.Printf("not delivered to hook %s: %s", de.HookID, de.Reason)
		}
	}
}

func ExampleDispatcher_SetHooks() {
	var d *sqshook.Dispatcher // from sqshook.New
	// Read, append, write back: the list is replaced whole, so start from
	// the current one.
	hooks := append(d.Hooks(), sqshook.Hook{
		Enabled:     true,
		HookType:    sqshook.HookTypeSQS,
		SQSQueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/Moderation.fifo",
		SQSRegion:   "eu-west-1",
		SQSAuthType: sqshook.AuthResource,
		EventTypes:  []string{"user.banned", "message.flagged"},
	})
	if err := d.SetHooks(hooks); err != nil {
		log.Fatal(err) // nothing changed
	}
}

// Example_sqstest runs the dispatcher against an in-process SQS endpoint
// that throttles the first call: the event is retried and delivered.
func Example_sqstest() {
	srv := sqstest.NewServer()
	defer srv.Close()
	url := srv.CreateQueue("events", nil)
	srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "RequestThrottled", Times: 1})

	d, err := sqshook.New([]sqshook.Hook{{
		ID: "events", Enabled: true, HookType: "sqs",
		SQSQueueURL: url, SQSRegion: "us-east-1",
		SQSAuthType: "keys", SQSKey: "AKIAEXAMPLEEXAMPLE00", SQSSecret: "example",
	}}, sqshook.WithEndpoint(srv.URL()), sqshook.WithRetryPolicy(sqshook.RetryPolicy{InitialInterval: time.Millisecond}))
	if err != nil {
		log.Fatal(err)
	}
	ev, _ := sqshook.NewEvent("message.new", map[string]string{"text": "hello"})
	if err := d.Publish(context.Background(), ev); err != nil {
		log.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
	st, _ := d.Stats().Hook("events")
	fmt.Println("matched", st.Matched, "delivered", st.Delivered, "retries", st.Retries)
	for _, m := range srv.Received(url) {
		fmt.Println(m.Body, m.Attributes[sqshook.AttrEventType].StringValue)
	}
	fmt.Println("calls", srv.Calls().Calls["SendMessageBatch"])
	// Output:
	// matched 1 delivered 1 retries 1
	// {"text":"hello"} message.new
	// calls 2
}
