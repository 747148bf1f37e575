package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"time"

	"github.com/sqshook/sqshook"
)

// chat simulates the events of a busy chat application: channels, users and
// a mix of event types, with bodies shaped like Stream's webhook payloads.
type chat struct {
	rng      *rand.Rand
	channels []string
	users    []user
	seq      int
	weights  []weighted
	total    int
}

type user struct {
	ID        string `json:"id"`
	Role      string `json:"role"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Banned    bool   `json:"banned"`
	Online    bool   `json:"online"`
}

type message struct {
	ID              string         `json:"id"`
	Text            string         `json:"text"`
	HTML            string         `json:"html"`
	Type            string         `json:"type"`
	User            user           `json:"user"`
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

type reaction struct {
	MessageID string `json:"message_id"`
	UserID    string `json:"user_id"`
	Type      string `json:"type"`
	Score     int    `json:"score"`
	CreatedAt string `json:"created_at"`
}

type member struct {
	UserID    string `json:"user_id"`
	User      user   `json:"user"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

type payload struct {
	Type        string    `json:"type"`
	CID         string    `json:"cid"`
	ChannelType string    `json:"channel_type"`
	ChannelID   string    `json:"channel_id"`
	Message     *message  `json:"message,omitempty"`
	Reaction    *reaction `json:"reaction,omitempty"`
	User        user      `json:"user"`
	Members     []member  `json:"members,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	CreatedAt   string    `json:"created_at"`
}

type weighted struct {
	eventType string
	weight    int
}

var phrases = []string{
	"Welcome to the Community!", "has anyone tried the new release?", "lunch at noon?",
	"the build is green again 🎉", "can you review my PR when you have a minute", "👍",
	"I'll be ten minutes late", "does this work on Android too?", "thanks, that fixed it",
	"meeting moved to 3pm", "see the thread above", "great job everyone!",
}

func newChat(seed int64) *chat {
	c := &chat{
		rng: rand.New(rand.NewSource(seed)),
		weights: []weighted{
			{"message.new", 40}, {"reaction.new", 18}, {"typing.start", 16}, {"message.read", 8},
			{"message.updated", 5}, {"channel.updated", 3}, {"member.added", 3},
			{"message.flagged", 3}, {"message.deleted", 2}, {"user.banned", 2},
		},
	}
	for _, w := range c.weights {
		c.total += w.weight
	}
	for i := 0; i < 24; i++ {
		c.channels = append(c.channels, fmt.Sprintf("fun-%08x-%04x", c.rng.Uint32(), c.rng.Intn(1<<16)))
	}
	for i := 0; i < 60; i++ {
		c.users = append(c.users, user{
			ID:        fmt.Sprintf("user-%08x", c.rng.Uint32()),
			Role:      "user",
			CreatedAt: "2020-03-30T07:54:46.207332Z",
			UpdatedAt: "2020-03-30T07:54:46.207719Z",
			Online:    c.rng.Intn(2) == 0,
		})
	}
	return c
}

// next returns the next simulated event. FIFO hooks keep each channel's
// events in order: the event's group is its channel.
func (c *chat) next() (sqshook.Event, error) {
	c.seq++
	pick := c.rng.Intn(c.total)
	eventType := c.weights[0].eventType
	for _, w := range c.weights {
		if pick < w.weight {
			eventType = w.eventType
			break
		}
		pick -= w.weight
	}
	channel := c.channels[c.rng.Intn(len(c.channels))]
	u := c.users[c.rng.Intn(len(c.users))]
	now := time.Now().UTC().Format(time.RFC3339Nano)
	p := payload{
		Type: eventType, CID: "messaging:" + channel, ChannelType: "messaging", ChannelID: channel,
		User: u, CreatedAt: now,
	}
	text := phrases[c.rng.Intn(len(phrases))]
	msgID := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", c.rng.Uint32(), c.seq&0xffff, c.rng.Intn(1<<12), c.rng.Intn(1<<12), c.seq)
	switch eventType {
	case "message.new", "message.updated", "message.deleted", "message.flagged", "message.read":
		p.Message = &message{
			ID: msgID, Text: text, HTML: "<p>" + text + "</p>\n", Type: "regular", User: u,
			Attachments: []any{}, LatestReactions: []any{}, OwnReactions: []any{}, ReactionScores: map[string]int{},
			CreatedAt: now, UpdatedAt: now, MentionedUsers: []any{},
		}
		if eventType == "message.new" {
			other := c.users[c.rng.Intn(len(c.users))]
			p.Members = []member{{UserID: u.ID, User: u, CreatedAt: now, UpdatedAt: now}, {UserID: other.ID, User: other, CreatedAt: now, UpdatedAt: now}}
		}
	case "reaction.new":
		p.Reaction = &reaction{MessageID: msgID, UserID: u.ID, Type: []string{"like", "love", "haha", "wow"}[c.rng.Intn(4)], Score: 1, CreatedAt: now}
	case "user.banned":
		p.Reason = "spam"
	case "member.added":
		p.Members = []member{{UserID: u.ID, User: u, CreatedAt: now, UpdatedAt: now}}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return sqshook.Event{}, err
	}
	return sqshook.Event{Type: eventType, Body: body, GroupID: p.CID}, nil
}
