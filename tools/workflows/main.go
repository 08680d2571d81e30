// Command workflows prints the app's stages (stack/stages) as the JSON list
// the deploy and deployed-diff workflows run their jobs over, in the order
// the pipeline deploys them:
//
//	go run ./tools/workflows
//	[{"name":"development","stack":"Cruddur-Dev","diffEnvironment":"development-diff"},...]
//
// Each workflow runs it from the default branch's code, so adding a stage is
// one value in stages.go. Its tests read .github/workflows with actionlint's
// own parser and check what actionlint does not: that the stage jobs run
// over this list, which job may mint the OIDC token, how actions are
// pinned, and that checkout keeps no token.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/cruddur/tracing/stack/stages"
)

// matrixStage is one stage as a workflow's matrix gives it to a job.
type matrixStage struct {
	// Name is the stage's name, and its deploy job's GitHub environment.
	Name string `json:"name"`
	// Stack is the stack the job deploys or diffs.
	Stack string `json:"stack"`
	// DiffEnvironment is the GitHub environment of its deployed diff.
	DiffEnvironment string `json:"diffEnvironment"`
}

// matrix is all as the workflows' matrix.
func matrix(all []stages.Stage) []matrixStage {
	out := make([]matrixStage, 0, len(all))
	for _, s := range all {
		out = append(out, matrixStage{Name: s.Name, Stack: s.StackName, DiffEnvironment: s.DiffEnvironment()})
	}
	return out
}

func main() {
	if err := json.NewEncoder(os.Stdout).Encode(matrix(stages.All)); err != nil {
		fmt.Fprintln(os.Stderr, "workflows:", err)
		os.Exit(1)
	}
}
