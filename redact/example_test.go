package redact_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/logship/logship/redact"
)

func Example() {
	pol, err := redact.ParsePolicy(map[string]string{"redact-mode": "partial"}, os.Getenv)
	if err != nil {
		panic(err)
	}
	m, err := redact.New(pol, nil)
	if err != nil {
		panic(err)
	}
	for _, line := range []string{
		`{"level":"info","msg":"login","user":"bob","password":"correct-horse-battery"}`,
		`GET /export?api_key=SfNZCvHUejETAgqapwnPYIgo&page=2 HTTP/1.1`,
		`{"request_id":"90f26b82-fe91-5329-1785-7e0831e5554e","token_count":512}`,
	} {
		out, changed := m.AppendLine(nil, []byte(line))
		if !changed {
			out = []byte(line)
		}
		fmt.Println(string(out))
	}
	// Output:
	// {"level":"info","msg":"login","user":"bob","password":"****tery"}
	// GET /export?api_key=****YIgo&page=2 HTTP/1.1
	// {"request_id":"90f26b82-fe91-5329-1785-7e0831e5554e","token_count":512}
}

func ExampleMasker_Filter() {
	m, _ := redact.New(redact.Policy{}, nil)
	in := "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY\nplain line\n"
	m.Filter(strings.NewReader(in), os.Stdout)
	// Output:
	// export AWS_SECRET_ACCESS_KEY=[REDACTED]
	// plain line
}
