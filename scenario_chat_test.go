package sqshook_test

import (
	"encoding/json"
	"testing"
)

// chatEvent is modelled on the sample message of Stream's SQS documentation.
type chatUser struct {
	ID        string `json:"id"`
	Role      string `json:"role"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Banned    bool   `json:"banned"`
	Online    bool   `json:"online"`
}

type chatMessage struct {
	ID              string         `json:"id"`
	Text            string         `json:"text"`
	HTML            string         `json:"html"`
	Type            string         `json:"type"`
	User            chatUser       `json:"user"`
	Attachments     []any          `json:"attachments"`
	LatestReactions []any          `json:"latest_reactions"`
	OwnReactions    []any          `json:"own_reactions"`
	ReactionCounts  map[string]int `json:"reaction_counts"`
	ReactionScores  map[string]int `json:"reaction_scores"`
	ReplyCount      int            `json:"reply_count"`
	CreatedAt       string         `json:"created_at"`
	UpdatedAt       string         `json:"updated_at"`
	MentionedUsers  []any          `json:"mentioned_users"`
}

type chatEvent struct {
	Type        string       `json:"type"`
	CID         string       `json:"cid"`
	Message     *chatMessage `json:"message,omitempty"`
	User        chatUser     `json:"user"`
	CreatedAt   string       `json:"created_at"`
	ChannelType string       `json:"channel_type"`
	ChannelID   string       `json:"channel_id"`
}

func sampleChatEvent(eventType, text string) chatEvent {
	u := chatUser{
		ID:        "tommaso-52ec3a5f-e916-469f-bf54-b53b5247a4b0",
		Role:      "user",
		CreatedAt: "2020-03-30T07:54:46.207332Z",
		UpdatedAt: "2020-03-30T07:54:46.207719Z",
	}
	return chatEvent{
		Type: eventType,
		CID:  "messaging:fun-d5f396e3-fbaf-469c-9b45-8837b4f75baa",
		Message: &chatMessage{
			ID:              "8bffc454-e1da-4d91-8b88-a87853dfb41c",
			Text:            text,
			HTML:            "<p>" + text + "</p>\n",
			Type:            "regular",
			User:            u,
			Attachments:     []any{},
			LatestReactions: []any{},
			OwnReactions:    []any{},
			ReactionScores:  map[string]int{},
			CreatedAt:       "2020-03-30T07:54:46.277381Z",
			UpdatedAt:       "2020-03-30T07:54:46.277382Z",
			MentionedUsers:  []any{},
		},
		User:        u,
		CreatedAt:   "2020-03-30T07:54:46.295138Z",
		ChannelType: "messaging",
		ChannelID:   "fun-d5f396e3-fbaf-469c-9b45-8837b4f75baa",
	}
}

// chatEventJSON returns a chat-like event body.
func chatEventJSON(t testing.TB, eventType, text string) []byte {
	t.Helper()
	b, err := json.Marshal(sampleChatEvent(eventType, text))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
