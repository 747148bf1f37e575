package sqstest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/sqshook/sqshook/sqstest"
)

func ExampleNewServer() {
	srv := sqstest.NewServer()
	defer srv.Close()
	url := srv.CreateQueue("events", nil)

	// The first SendMessageBatch call is throttled; later ones go through.
	srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "RequestThrottled", Times: 1})

	client := srv.Client() // or any SDK client with BaseEndpoint srv.URL()
	in := &sqs.SendMessageBatchInput{
		QueueUrl: aws.String(url),
		Entries: []types.SendMessageBatchRequestEntry{
			{Id: aws.String("a"), MessageBody: aws.String(`{"type":"message.new"}`)},
			{Id: aws.String("b"), MessageBody: aws.String(`{"type":"message.edit"}`)},
		},
	}
	for attempt := 1; attempt <= 2; attempt++ {
		out, err := client.SendMessageBatch(context.Background(), in)
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			fmt.Printf("attempt %d: %s\n", attempt, apiErr.ErrorCode())
			continue
		}
		fmt.Printf("attempt %d: %d sent\n", attempt, len(out.Successful))
	}

	for _, m := range srv.Received(url) {
		fmt.Println(m.Body)
	}
	stats := srv.Calls()
	fmt.Println("calls:", stats.Calls["SendMessageBatch"], "throttled:", stats.Injected["RequestThrottled"])
	// Output:
	// attempt 1: RequestThrottled
	// attempt 2: 2 sent
	// {"type":"message.new"}
	// {"type":"message.edit"}
	// calls: 2 throttled: 1
}
