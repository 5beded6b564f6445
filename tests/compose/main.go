// Loads compose.yaml with compose-go, the library `docker compose` v2 is built on, exactly as
// `docker compose --env-file .env.example config` would: the compose specification's schema,
// interpolation (a `${VAR:?}` left unset is an error), merging of YAML anchors, and
// normalisation, and an override file's merge (`checker compose.yaml:compose.ha.yaml ENV`:
// the files in order, as COMPOSE_FILE lists them). It prints the loaded project as JSON for
// tests/compose/test_compose_loader.py, or the loader's error and exit status 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: checker <compose.yaml>[:<override.yaml>...] <env file>")
		os.Exit(2)
	}
	files, envFile := filepath.SplitList(os.Args[1]), os.Args[2]
	dir := filepath.Dir(files[0])
	options, err := cli.NewProjectOptions(
		files,
		cli.WithWorkingDirectory(dir),
		cli.WithEnvFiles(envFile),
		cli.WithDotEnv,
		cli.WithName("outbox"),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := json.MarshalIndent(project, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
