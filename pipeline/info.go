package pipeline

import "github.com/docker/docker/daemon/logger"

// Info is what dockerd tells a log driver about a container in StartLogging
// and ReadLogs. It is Docker's own type, so that the tag template, labels and
// env options behave exactly as in Docker's built-in drivers.
type Info = logger.Info
