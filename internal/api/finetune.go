package api

import (
	"context"
	"errors"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/ftjob"
	"github.com/needle-router/needle/internal/registry"
)

// WithFinetune gives the service the runner of fine-tune jobs (nil: StartFinetune answers
// FAILED_PRECONDITION, as a runner that is not enabled does).
func (s *Service) WithFinetune(r *ftjob.Runner) *Service {
	s.ft = r
	return s
}

// StartFinetune implements RouterService.StartFinetune.
func (s *Service) StartFinetune(ctx context.Context, req *routerv1.StartFinetuneRequest) (*routerv1.StartFinetuneResponse, error) {
	if s.ft == nil || !s.ft.Enabled() {
		return nil, Status(ctx, s.log, ftjob.ErrDisabled)
	}
	if req.GetToolset() == "" {
		return nil, Status(ctx, s.log, registry.Invalid("toolset", "name the stored or file toolset to fine-tune for"))
	}
	ts, err := s.reg.Get(req.GetToolset())
	if err != nil {
		return nil, Status(ctx, s.log, err)
	}
	job, err := s.ft.Start(ftjob.Request{Toolset: ts.Name, Raw: ts.Raw, Tools: ts.Tools, Examples: []byte(req.GetExamplesJsonl()),
		Model: req.GetModel(), Minutes: float64(req.GetMinutes()), Steps: int(min(req.GetSteps(), ftjob.MaxStepsPerJob+1)), Seed: req.GetSeed()},
		func(j ftjob.Job) (bool, string) {
			if !req.GetSwitchToolset() {
				return false, ""
			}
			return s.switchModel(ts, j.Model)
		})
	if err != nil {
		return nil, Status(ctx, s.log, err)
	}
	return &routerv1.StartFinetuneResponse{Job: jobProto(job)}, nil
}

// switchModel runs the toolset on the new model if it is still the toolset the model was
// trained for; the note says why not otherwise.
func (s *Service) switchModel(ts *registry.Toolset, model string) (bool, string) {
	cur, err := s.reg.Get(ts.Name)
	switch {
	case err != nil:
		return false, "not switched: the toolset was deleted while the model trained"
	case !cur.UpdatedAt.Equal(ts.UpdatedAt) || string(cur.Raw) != string(ts.Raw):
		return false, "not switched: the toolset changed while the model trained"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.p.CheckModel(ctx, model, "model"); err != nil {
		s.log.Error("the fine-tuned model does not load", "model", model, "err", err.Error())
		return false, "not switched: the new model does not load (the router's log says why)"
	}
	if _, err := s.reg.Put(ts.Name, ts.Raw, model, s.now()); err != nil {
		if errors.Is(err, registry.ErrReadOnly) {
			return false, "not switched: the toolset is from --tools-dir; write the model's name into NAME.model beside its file and restart"
		}
		s.log.Error("switching the toolset to the fine-tuned model", "toolset", ts.Name, "model", model, "err", err.Error())
		return false, "not switched: the toolset could not be stored (the router's log says why)"
	}
	return true, ""
}

// GetFinetune implements RouterService.GetFinetune.
func (s *Service) GetFinetune(ctx context.Context, req *routerv1.GetFinetuneRequest) (*routerv1.GetFinetuneResponse, error) {
	out := &routerv1.GetFinetuneResponse{Enabled: s.ft != nil && s.ft.Enabled()}
	if s.ft == nil {
		if req.GetId() == "latest" {
			return out, nil
		}
		return nil, Status(ctx, s.log, ftjob.ErrNotFound)
	}
	j, err := s.ft.Get(req.GetId())
	switch {
	case errors.Is(err, ftjob.ErrNotFound) && req.GetId() == "latest":
		return out, nil
	case err != nil:
		return nil, Status(ctx, s.log, err)
	}
	out.Job = jobProto(j)
	return out, nil
}

func jobProto(j ftjob.Job) *routerv1.FinetuneJob {
	out := &routerv1.FinetuneJob{Id: j.ID, Toolset: j.Toolset, Model: j.Model, State: j.State.String(), Phase: j.Phase, Step: uint32(j.Step), Steps: uint32(j.Steps),
		ElapsedS: float32(j.Elapsed.Seconds()), BudgetS: float32(j.Budget.Seconds()), ReportMarkdown: j.ReportMarkdown, ReportJson: string(j.Report),
		Error: j.Error, Switched: j.Switched, Note: j.Note, StartTime: timestamppb.New(j.Started)}
	if !j.Ended.IsZero() {
		out.EndTime = timestamppb.New(j.Ended)
	}
	return out
}
