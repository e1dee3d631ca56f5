#include "services/payroll/payroll_service.h"

#include <grpcpp/alarm.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/server/polling_reactor.h"
#include "libs/status/status.h"
#include "services/payroll/render.h"

namespace tahe::payroll {

using server::HandleUnary;

// --- the progress registry -----------------------------------------------------------------------

std::string PayRunProgressRegistry::KeyOf(const std::string& tenant,
                                          const std::string& pay_run_id) {
  return absl::StrCat(tenant, "/", pay_run_id);  // a tenant slug holds no '/'
}

int64_t PayRunProgressRegistry::Begin(const std::string& tenant, const std::string& pay_run_id,
                                      absl::Time now) {
  absl::MutexLock lock(&mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (now - it->second.ended > kRetention) {
      entries_.erase(it++);
    } else {
      ++it;
    }
  }
  Entry& entry = entries_[KeyOf(tenant, pay_run_id)];
  entry = Entry();
  entry.snapshot.generation = ++last_generation_;
  entry.snapshot.running = true;
  return entry.snapshot.generation;
}

void PayRunProgressRegistry::Record(const std::string& tenant, const std::string& pay_run_id,
                                    int64_t generation, int done, int total) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(KeyOf(tenant, pay_run_id));
  if (it == entries_.end() || it->second.snapshot.generation != generation) {
    return;
  }
  std::vector<Report>& reports = it->second.snapshot.reports;
  if (reports.size() < kMaxReports) {
    reports.push_back({.done = done, .total = total});
  } else {
    reports.back() = {.done = done, .total = total};
  }
}

void PayRunProgressRegistry::End(const std::string& tenant, const std::string& pay_run_id,
                                 int64_t generation, absl::Status outcome, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(KeyOf(tenant, pay_run_id));
  if (it == entries_.end() || it->second.snapshot.generation != generation) {
    return;
  }
  it->second.snapshot.running = false;
  it->second.snapshot.outcome = std::move(outcome);
  it->second.ended = now;
}

PayRunProgressRegistry::Snapshot PayRunProgressRegistry::Get(const std::string& tenant,
                                                             const std::string& pay_run_id) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(KeyOf(tenant, pay_run_id));
  return it == entries_.end() ? Snapshot() : it->second.snapshot;
}

// --- unary handlers ------------------------------------------------------------------------------

PayrollService::PayrollService(PayrollRepository* repository, server::HandlerEnv env,
                               std::function<void()> on_approved, Options options)
    : repository_(repository), env_(env), on_approved_(std::move(on_approved)), options_(options) {}

#define TAHE_PAYROLL_UNARY(Method, Call)                                              \
  return HandleUnary(ctx, env_, #Method, [this, req, resp](const CallContext& call) { \
    (void)req;                                                                        \
    ASSIGN_OR_RETURN(*resp, Call);                                                    \
    return absl::OkStatus();                                                          \
  })

grpc::ServerUnaryReactor* PayrollService::UpsertEmployee(grpc::CallbackServerContext* ctx,
                                                         const v1::UpsertEmployeeRequest* req,
                                                         v1::Employee* resp) {
  TAHE_PAYROLL_UNARY(UpsertEmployee, repository_->UpsertEmployee(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::GetEmployee(grpc::CallbackServerContext* ctx,
                                                      const v1::GetEmployeeRequest* req,
                                                      v1::Employee* resp) {
  TAHE_PAYROLL_UNARY(GetEmployee, repository_->GetEmployee(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::ListEmployees(grpc::CallbackServerContext* ctx,
                                                        const v1::ListEmployeesRequest* req,
                                                        v1::ListEmployeesResponse* resp) {
  TAHE_PAYROLL_UNARY(ListEmployees, repository_->ListEmployees(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::SetTaxCard(grpc::CallbackServerContext* ctx,
                                                     const v1::SetTaxCardRequest* req,
                                                     v1::TaxCard* resp) {
  TAHE_PAYROLL_UNARY(SetTaxCard, repository_->SetTaxCard(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::ListTaxCards(grpc::CallbackServerContext* ctx,
                                                       const v1::ListTaxCardsRequest* req,
                                                       v1::ListTaxCardsResponse* resp) {
  TAHE_PAYROLL_UNARY(ListTaxCards, repository_->ListTaxCards(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::LoadRateTable(grpc::CallbackServerContext* ctx,
                                                        const v1::LoadRateTableRequest* req,
                                                        v1::RateTable* resp) {
  TAHE_PAYROLL_UNARY(LoadRateTable, repository_->LoadRateTable(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::ListRateTables(grpc::CallbackServerContext* ctx,
                                                         const v1::ListRateTablesRequest* req,
                                                         v1::ListRateTablesResponse* resp) {
  TAHE_PAYROLL_UNARY(ListRateTables, repository_->ListRateTables(call));
}
grpc::ServerUnaryReactor* PayrollService::SetPayrollSettings(
    grpc::CallbackServerContext* ctx, const v1::SetPayrollSettingsRequest* req,
    v1::PayrollSettings* resp) {
  TAHE_PAYROLL_UNARY(SetPayrollSettings, repository_->SetPayrollSettings(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::GetPayrollSettings(
    grpc::CallbackServerContext* ctx, const v1::GetPayrollSettingsRequest* req,
    v1::PayrollSettings* resp) {
  TAHE_PAYROLL_UNARY(GetPayrollSettings, repository_->GetPayrollSettings(call));
}
grpc::ServerUnaryReactor* PayrollService::AddPayItems(grpc::CallbackServerContext* ctx,
                                                      const v1::AddPayItemsRequest* req,
                                                      v1::AddPayItemsResponse* resp) {
  TAHE_PAYROLL_UNARY(AddPayItems, repository_->AddPayItems(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::ListPayItems(grpc::CallbackServerContext* ctx,
                                                       const v1::ListPayItemsRequest* req,
                                                       v1::ListPayItemsResponse* resp) {
  TAHE_PAYROLL_UNARY(ListPayItems, repository_->ListPayItems(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::CreatePayRun(grpc::CallbackServerContext* ctx,
                                                       const v1::CreatePayRunRequest* req,
                                                       v1::PayRun* resp) {
  TAHE_PAYROLL_UNARY(CreatePayRun, repository_->CreatePayRun(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::CalculatePayRun(grpc::CallbackServerContext* ctx,
                                                          const v1::CalculatePayRunRequest* req,
                                                          v1::PayRun* resp) {
  return HandleUnary(ctx, env_, "CalculatePayRun", [this, req, resp](const CallContext& call) {
    const std::string& run_id = req->pay_run_id();
    // Ends the generation however the calculation ends, an exception included, so that no watcher
    // waits for a calculation that is over.
    struct EndOfCalculation {
      ~EndOfCalculation() { registry.End(tenant, run_id, generation, outcome, absl::Now()); }
      PayRunProgressRegistry& registry;
      const std::string& tenant;
      const std::string& run_id;
      int64_t generation;
      absl::Status outcome = absl::UnknownError("the calculation did not finish");
    } end{.registry = progress_,
          .tenant = call.tenant,
          .run_id = run_id,
          .generation = progress_.Begin(call.tenant, run_id, absl::Now())};
    absl::StatusOr<v1::PayRun> run =
        repository_->CalculatePayRun(call, *req, [&](int done, int total) {
          progress_.Record(call.tenant, run_id, end.generation, done, total);
        });
    end.outcome = run.status();
    ASSIGN_OR_RETURN(*resp, std::move(run));
    return absl::OkStatus();
  });
}
grpc::ServerUnaryReactor* PayrollService::GetPayRun(grpc::CallbackServerContext* ctx,
                                                    const v1::GetPayRunRequest* req,
                                                    v1::PayRun* resp) {
  TAHE_PAYROLL_UNARY(GetPayRun, repository_->GetPayRun(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::ListPayRuns(grpc::CallbackServerContext* ctx,
                                                      const v1::ListPayRunsRequest* req,
                                                      v1::ListPayRunsResponse* resp) {
  TAHE_PAYROLL_UNARY(ListPayRuns, repository_->ListPayRuns(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::ListPayslips(grpc::CallbackServerContext* ctx,
                                                       const v1::ListPayslipsRequest* req,
                                                       v1::ListPayslipsResponse* resp) {
  TAHE_PAYROLL_UNARY(ListPayslips, repository_->ListPayslips(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::CancelPayRun(grpc::CallbackServerContext* ctx,
                                                       const v1::CancelPayRunRequest* req,
                                                       v1::PayRun* resp) {
  TAHE_PAYROLL_UNARY(CancelPayRun, repository_->CancelPayRun(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::GetPaymentFile(grpc::CallbackServerContext* ctx,
                                                         const v1::GetPaymentFileRequest* req,
                                                         v1::PaymentFile* resp) {
  TAHE_PAYROLL_UNARY(GetPaymentFile, repository_->GetPaymentFile(call, *req));
}

grpc::ServerUnaryReactor* PayrollService::ApprovePayRun(grpc::CallbackServerContext* ctx,
                                                        const v1::ApprovePayRunRequest* req,
                                                        v1::PayRun* resp) {
  return HandleUnary(ctx, env_, "ApprovePayRun", [this, req, resp](const CallContext& call) {
    ASSIGN_OR_RETURN(*resp, repository_->ApprovePayRun(call, *req));
    if (on_approved_) {
      on_approved_();
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PayrollService::RenderPayslips(grpc::CallbackServerContext* ctx,
                                                         const v1::RenderPayslipsRequest* req,
                                                         v1::RenderPayslipsResponse* resp) {
  return HandleUnary(ctx, env_, "RenderPayslips", [this, req, resp](const CallContext& call) {
    if (req->format() != v1::RENDER_FORMAT_TEXT && req->format() != v1::RENDER_FORMAT_CSV) {
      return InvalidField("format", "RENDER_FORMAT_TEXT or RENDER_FORMAT_CSV");
    }
    ASSIGN_OR_RETURN(std::vector<v1::Payslip> slips, repository_->PayslipsToRender(call, *req));
    if (req->format() == v1::RENDER_FORMAT_TEXT) {
      resp->set_content_type(kPayslipTextContentType);
      resp->set_content(RenderPayslipsText(slips));
    } else {
      resp->set_content_type(kPayslipCsvContentType);
      resp->set_content(RenderPayslipsCsv(slips));
    }
    return absl::OkStatus();
  });
}

#undef TAHE_PAYROLL_UNARY

// --- imports: client streaming, each message one batch -------------------------------------------

template <typename Request, typename Response>
class PayrollService::ImportReactor final : public grpc::ServerReadReactor<Request> {
 public:
  using BatchMethod = absl::StatusOr<Response> (PayrollRepository::*)(const CallContext&,
                                                                      const Request&);

  ImportReactor(PayrollService* service, grpc::CallbackServerContext* ctx, Response* resp,
                absl::string_view method, BatchMethod batch)
      : service_(service), ctx_(ctx), resp_(resp), batch_(batch) {
    absl::StatusOr<CallContext> call = server::StartCall(ctx, service_->env_, method);
    if (!call.ok()) {
      this->Finish(ToGrpcStatus(call.status()));
      return;
    }
    call_ = *std::move(call);
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed (or went away): report
      ListOmitted();
      this->Finish(grpc::Status::OK);
      return;
    }
    bool queued = service_->env_.workers->Submit([this] {
      if (ctx_->IsCancelled()) {
        this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
        return;
      }
      absl::Status status = server::GuardedRun(call_, [this] { return ProcessBatch(); });
      if (!status.ok()) {
        this->Finish(server::ToWireStatus(call_, status));
        return;
      }
      this->StartRead(&request_);
    });
    if (!queued) {
      this->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "server overloaded"));
    }
  }

  void OnDone() override { delete this; }

 private:
  absl::Status ProcessBatch() {
    absl::StatusOr<Response> batch = (service_->repository_->*batch_)(call_, request_);
    if (!batch.ok()) {
      return Annotate(batch.status(), absl::StrCat("batch ", batch_index_));
    }
    resp_->set_accepted(resp_->accepted() + batch->accepted());
    for (v1::Rejection& rejection : *batch->mutable_rejected()) {
      rejection.set_batch(batch_index_);
      if (resp_->rejected_size() < kMaxListedRejections) {
        *resp_->add_rejected() = std::move(rejection);
      } else {
        if (omitted_ == 0) {
          first_omitted_batch_ = batch_index_;
        }
        ++omitted_;
      }
    }
    ++batch_index_;
    return absl::OkStatus();
  }

  void ListOmitted() {
    if (omitted_ == 0) {
      return;
    }
    v1::Rejection* more = resp_->add_rejected();
    more->set_batch(first_omitted_batch_);
    more->set_index(-1);
    more->set_message(absl::StrCat(omitted_, " more rejections, from batch ", first_omitted_batch_,
                                   " on, are not listed (at most ", kMaxListedRejections, " are)"));
  }

  PayrollService* const service_;
  grpc::CallbackServerContext* const ctx_;
  Response* const resp_;
  const BatchMethod batch_;
  CallContext call_;
  Request request_;
  int batch_index_ = 0;
  int64_t omitted_ = 0;
  int first_omitted_batch_ = 0;
};

grpc::ServerReadReactor<v1::ImportEmployeesRequest>* PayrollService::ImportEmployees(
    grpc::CallbackServerContext* ctx, v1::ImportEmployeesResponse* resp) {
  return new ImportReactor<v1::ImportEmployeesRequest, v1::ImportEmployeesResponse>(
      this, ctx, resp, "ImportEmployees", &PayrollRepository::ImportEmployeesBatch);
}

grpc::ServerReadReactor<v1::ImportPayItemsRequest>* PayrollService::ImportPayItems(
    grpc::CallbackServerContext* ctx, v1::ImportPayItemsResponse* resp) {
  return new ImportReactor<v1::ImportPayItemsRequest, v1::ImportPayItemsResponse>(
      this, ctx, resp, "ImportPayItems", &PayrollRepository::ImportPayItemsBatch);
}

// --- watches: server streaming, polled -----------------------------------------------------------
//
// At most one operation is outstanding at any time (a poll on the worker pool, a write, or the
// alarm before the next poll), and whichever completes decides the next step, so Finish runs
// exactly once and nothing touches the reactor after OnDone.

template <typename Message>
class PayrollService::PollingWriteReactor : public server::PollingWriteReactor<Message> {
 protected:
  explicit PollingWriteReactor(PayrollService* service)
      : server::PollingWriteReactor<Message>(service->env_, service->options_.watch_poll_interval,
                                             &service->stopping_),
        service_(service) {}

  PayrollService* const service_;
};

namespace {

bool IsSettled(v1::PayRunStatus status) {
  return status == v1::PAY_RUN_STATUS_CALCULATED || status == v1::PAY_RUN_STATUS_POSTED ||
         status == v1::PAY_RUN_STATUS_CANCELLED;
}

// The run's state as a progress message; `failure` is the outcome of the last calculation seen.
v1::PayRunProgress StateOf(const v1::PayRun& run, const absl::Status& failure) {
  v1::PayRunProgress p;
  p.set_status(run.status());
  const int payslips = run.totals().payslips();
  switch (run.status()) {
    case v1::PAY_RUN_STATUS_DRAFT:
      p.set_message("not calculated yet");
      break;
    case v1::PAY_RUN_STATUS_CALCULATED:
      p.set_message(absl::StrCat(
          "calculated: ", payslips, " payslips",
          run.skipped().empty() ? ""
                                : absl::StrCat(", ", run.skipped_size(), " employees skipped")));
      break;
    case v1::PAY_RUN_STATUS_APPROVED:
      p.set_message(run.delivery_error().empty()
                        ? "approved: the ledger posting is being delivered"
                        : absl::StrCat("approved: delivery to the ledger failed, retrying: ",
                                       run.delivery_error()));
      break;
    case v1::PAY_RUN_STATUS_POSTED:
      p.set_message(absl::StrCat("posted to the ledger as entry ", run.ledger_sequence()));
      break;
    case v1::PAY_RUN_STATUS_CANCELLED:
      p.set_message("cancelled");
      break;
    default:
      break;
  }
  if (run.status() != v1::PAY_RUN_STATUS_DRAFT && run.status() != v1::PAY_RUN_STATUS_CANCELLED) {
    p.set_payslips_done(payslips);
    p.set_payslips_total(payslips);
  }
  const bool calculable =
      run.status() == v1::PAY_RUN_STATUS_DRAFT || run.status() == v1::PAY_RUN_STATUS_CALCULATED;
  if (calculable && !failure.ok()) {
    const bool internal = failure.code() == absl::StatusCode::kInternal ||
                          failure.code() == absl::StatusCode::kUnknown;
    p.set_message(internal ? std::string("calculation failed: internal error")
                           : absl::StrCat("calculation failed: ", CodeName(failure.code()), ": ",
                                          failure.message()));
  }
  return p;
}

}  // namespace

class PayrollService::WatchPayRunReactor final : public PollingWriteReactor<v1::PayRunProgress> {
 public:
  WatchPayRunReactor(PayrollService* service, grpc::CallbackServerContext* ctx,
                     const v1::WatchPayRunRequest* req)
      : PollingWriteReactor(service), pay_run_id_(req->pay_run_id()) {
    Start(ctx, "WatchPayRun",
          pay_run_id_.empty() ? InvalidField("pay_run_id", "required") : absl::OkStatus());
  }

 private:
  absl::Status Poll(const CallContext& call, std::vector<v1::PayRunProgress>& out,
                    bool& finished) override {
    // The registry before the database: a calculation the registry shows ended has committed or
    // rolled back, so the run read next shows its outcome.
    const PayRunProgressRegistry::Snapshot progress =
        service_->progress_.Get(call.tenant, pay_run_id_);
    v1::GetPayRunRequest get;
    get.set_pay_run_id(pay_run_id_);
    ASSIGN_OR_RETURN(const v1::PayRun run, service_->repository_->GetPayRun(call, get));
    const bool first_poll = !sent_any_;
    if (first_poll && !progress.running) {
      // A calculation that ended before the watch began is history: only its result is shown.
      ignore_through_ = progress.generation;
    }
    bool running = false;
    absl::Status failure;
    if (progress.generation > ignore_through_) {
      if (progress.generation != generation_) {
        generation_ = progress.generation;
        reports_sent_ = 0;
      }
      // Reports describe the run as it was while the calculation ran: with the status it had
      // before (a report may be read only after the calculation committed).
      const v1::PayRunStatus before = sent_any_ ? last_sent_.status() : run.status();
      for (; reports_sent_ < progress.reports.size(); ++reports_sent_) {
        const PayRunProgressRegistry::Report& report = progress.reports[reports_sent_];
        v1::PayRunProgress p;
        p.set_status(before);
        p.set_payslips_done(report.done);
        p.set_payslips_total(report.total);
        p.set_message(
            absl::StrCat("calculating: ", report.done, " of ", report.total, " employees"));
        out.push_back(std::move(p));
      }
      running = progress.running;
      failure = progress.outcome;
    }
    if (running) {
      if (out.empty() && first_poll) {
        v1::PayRunProgress p;
        p.set_status(run.status());
        p.set_message("calculating");
        out.push_back(std::move(p));
      }
    } else {
      v1::PayRunProgress state = StateOf(run, failure);
      if (out.empty() ? state.SerializeAsString() != last_sent_.SerializeAsString()
                      : state.SerializeAsString() != out.back().SerializeAsString()) {
        out.push_back(std::move(state));
      }
      finished = IsSettled(run.status());
    }
    if (!out.empty()) {
      last_sent_ = out.back();
      sent_any_ = true;
    }
    return absl::OkStatus();
  }

  const std::string pay_run_id_;
  // Generations up to this one ended before the watch began.
  int64_t ignore_through_ = 0;
  // The generation followed and how many of its reports were sent.
  int64_t generation_ = 0;
  size_t reports_sent_ = 0;
  bool sent_any_ = false;
  v1::PayRunProgress last_sent_;
};

grpc::ServerWriteReactor<v1::PayRunProgress>* PayrollService::WatchPayRun(
    grpc::CallbackServerContext* ctx, const v1::WatchPayRunRequest* req) {
  return new WatchPayRunReactor(this, ctx, req);
}

class PayrollService::WatchTotalsReactor final : public PollingWriteReactor<v1::PayRunTotals> {
 public:
  WatchTotalsReactor(PayrollService* service, grpc::CallbackServerContext* ctx,
                     const v1::WatchPayRunTotalsRequest* req)
      : PollingWriteReactor(service), after_(req->after_sequence()) {
    Start(ctx, "WatchPayRunTotals",
          after_ < 0 ? InvalidField("after_sequence", "must be >= 0") : absl::OkStatus());
  }

 private:
  absl::Status Poll(const CallContext& call, std::vector<v1::PayRunTotals>& out,
                    bool& finished) override {
    ASSIGN_OR_RETURN(
        out, service_->repository_->TotalsAfter(call, after_, service_->options_.watch_batch));
    if (!out.empty()) {
      after_ = out.back().sequence();
    }
    finished = false;
    return absl::OkStatus();
  }

  int64_t after_;
};

grpc::ServerWriteReactor<v1::PayRunTotals>* PayrollService::WatchPayRunTotals(
    grpc::CallbackServerContext* ctx, const v1::WatchPayRunTotalsRequest* req) {
  return new WatchTotalsReactor(this, ctx, req);
}

}  // namespace tahe::payroll
