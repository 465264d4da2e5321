module github.com/needle-router/needle

go 1.26.8

require (
	github.com/brianvoe/gofakeit/v7 v7.18.2
	google.golang.org/protobuf v1.36.12
)
