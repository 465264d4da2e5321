module github.com/needle-router/needle

go 1.26.8

require (
	github.com/brianvoe/gofakeit/v7 v7.18.2
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
	golang.org/x/text v0.14.0 // indirect
)
