// Command printversion prints version.String(); version_test builds it with
// -ldflags -X to prove that the linker flag the Dockerfile uses works.
package main

import (
	"fmt"

	"github.com/arcgate/arcgate/internal/version"
)

func main() { fmt.Println(version.String()) }
