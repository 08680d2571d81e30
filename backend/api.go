package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cruddur/tracing/backend/internal/tracing"
)

// Activity is one post in a Cruddur feed, with the fields of Cruddur's API.
type Activity struct {
	UUID         string    `json:"uuid"`
	Handle       string    `json:"handle"`
	Message      string    `json:"message"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	LikesCount   int       `json:"likes_count"`
	RepliesCount int       `json:"replies_count"`
	RepostsCount int       `json:"reposts_count"`
}

// healthCheckPath is where the load balancer and the container health check
// ask; its requests are neither traced (the stack's rule set records none)
// nor logged.
const healthCheckPath = "/api/health-check"

// metadataNamespace is where the API's steps describe themselves in their
// segments' metadata, in both tracing modes.
const metadataNamespace = "cruddur"

// routes is the API without tracing: the tracing middleware wraps it whole.
func routes(now func() time.Time, steps tracing.Steps) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+healthCheckPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]bool{"success": true})
	})
	mux.HandleFunc("GET /api/activities/home", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, homeActivities(r.Context(), now(), steps))
	})
	return mux
}

// homeActivities builds the mock home feed inside the "mock-data" step, as
// the bootcamp's backend does, and records when and how many.
func homeActivities(ctx context.Context, now time.Time, steps tracing.Steps) []Activity {
	var activities []Activity
	steps.Step(ctx, "mock-data", func() { activities = mockHomeActivities(now) }, func() map[string]any {
		return map[string]any{"home-activities": map[string]any{
			"now":          now.UTC().Format(time.RFC3339),
			"results-size": len(activities),
		}}
	})
	return activities // every Steps runs work, recorded or not
}

func mockHomeActivities(now time.Time) []Activity {
	now = now.UTC()
	day := 24 * time.Hour
	return []Activity{
		{UUID: "68f126b0-1ceb-4a33-88be-d90fa7109eee", Handle: "Andrew Brown", Message: "Cloud is very fun!",
			CreatedAt: now.Add(-2 * day), ExpiresAt: now.Add(5 * day), LikesCount: 5, RepliesCount: 1},
		{UUID: "66e12864-8c26-4c3a-9658-95a10f8fea67", Handle: "Worf", Message: "I am out of prune juice",
			CreatedAt: now.Add(-7 * day), ExpiresAt: now.Add(9 * day)},
		{UUID: "248959df-3079-4947-b847-9d0892d1bab4", Handle: "Garek", Message: "My dear doctor, I am just simple tailor",
			CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(12 * time.Hour)},
	}
}

// writeJSON answers with v as JSON and an explicit Content-Length, which the
// X-Ray middleware records as the response's content_length.
func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		slog.Error("encoding response", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	body = append(body, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}
