#include "services/reporting/reporting_service.h"

#include <algorithm>
#include <map>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/status/status.h"
#include "services/reporting/reporting_render.h"

namespace tahe::reporting {

using server::HandleUnary;

ReportingService::ReportingService(ReportingRepository* repository, const LedgerFollower* follower,
                                   ReportingMetrics* metrics, server::HandlerEnv env,
                                   Options options)
    : repository_(repository),
      follower_(follower),
      metrics_(metrics),
      env_(env),
      options_(options) {}

absl::Status ReportingService::AwaitSequence(const CallContext& call, int64_t min_sequence) {
  if (min_sequence <= 0) {
    return absl::OkStatus();
  }
  // Leave the caller time to receive the answer.
  const absl::Time until =
      std::min(absl::Now() + options_.max_freshness_wait, call.deadline - absl::Milliseconds(100));
  for (;;) {
    ASSIGN_OR_RETURN(std::vector<Checkpoint> checkpoints, repository_->Checkpoints(call));
    const int64_t applied = checkpoints.empty() ? 0 : checkpoints[0].last_sequence;
    if (applied >= min_sequence) {
      return absl::OkStatus();
    }
    if (absl::Now() + options_.freshness_poll > until) {
      return absl::UnavailableError(
          absl::StrCat("scope.min_sequence: reporting has applied the ledger up to sequence ",
                       applied, ", not yet ", min_sequence, "; retry"));
    }
    absl::SleepFor(options_.freshness_poll);
  }
}

// A report: freshness first, then the report, timed per report.
#define TAHE_REPORT(Method, label, min_sequence, expr)                                        \
  return HandleUnary(ctx, env_, #Method, [=, this](const CallContext& call) -> absl::Status { \
    const absl::Time start = absl::Now();                                                     \
    RETURN_IF_ERROR(AwaitSequence(call, min_sequence));                                       \
    ASSIGN_OR_RETURN(*resp, expr);                                                            \
    if (metrics_ != nullptr) metrics_->Report(label, absl::Now() - start);                    \
    return absl::OkStatus();                                                                  \
  })

grpc::ServerUnaryReactor* ReportingService::GetTrialBalance(grpc::CallbackServerContext* ctx,
                                                            const v1::GetTrialBalanceRequest* req,
                                                            v1::TrialBalance* resp) {
  TAHE_REPORT(GetTrialBalance, "trial_balance", req->scope().min_sequence(),
              repository_->GetTrialBalance(call, *req));
}

grpc::ServerUnaryReactor* ReportingService::GetIncomeStatement(
    grpc::CallbackServerContext* ctx, const v1::GetIncomeStatementRequest* req,
    v1::Statement* resp) {
  TAHE_REPORT(GetIncomeStatement, "income_statement", req->scope().min_sequence(),
              repository_->GetIncomeStatement(call, *req));
}

grpc::ServerUnaryReactor* ReportingService::GetBalanceSheet(grpc::CallbackServerContext* ctx,
                                                            const v1::GetBalanceSheetRequest* req,
                                                            v1::Statement* resp) {
  TAHE_REPORT(GetBalanceSheet, "balance_sheet", req->scope().min_sequence(),
              repository_->GetBalanceSheet(call, *req));
}

grpc::ServerUnaryReactor* ReportingService::GetCostCentreReport(
    grpc::CallbackServerContext* ctx, const v1::GetCostCentreReportRequest* req,
    v1::CostCentreReport* resp) {
  TAHE_REPORT(GetCostCentreReport, "cost_centre", req->scope().min_sequence(),
              repository_->GetCostCentreReport(call, *req));
}

grpc::ServerUnaryReactor* ReportingService::GetBudgetReport(grpc::CallbackServerContext* ctx,
                                                            const v1::GetBudgetReportRequest* req,
                                                            v1::BudgetReport* resp) {
  TAHE_REPORT(GetBudgetReport, "budget", req->scope().min_sequence(),
              repository_->GetBudgetReport(call, *req));
}

grpc::ServerUnaryReactor* ReportingService::GetPayrollCosts(grpc::CallbackServerContext* ctx,
                                                            const v1::GetPayrollCostsRequest* req,
                                                            v1::PayrollCosts* resp) {
  TAHE_REPORT(GetPayrollCosts, "payroll_costs", req->scope().min_sequence(),
              repository_->GetPayrollCosts(call, *req));
}

grpc::ServerUnaryReactor* ReportingService::UploadBudget(grpc::CallbackServerContext* ctx,
                                                         const v1::UploadBudgetRequest* req,
                                                         v1::UploadBudgetResponse* resp) {
  return HandleUnary(ctx, env_, "UploadBudget", [=, this](const CallContext& call) -> absl::Status {
    ASSIGN_OR_RETURN(*resp, repository_->UploadBudget(call, *req));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReportingService::SetStatementMapping(
    grpc::CallbackServerContext* ctx, const v1::SetStatementMappingRequest* req,
    v1::StatementMapping* resp) {
  return HandleUnary(ctx, env_, "SetStatementMapping",
                     [=, this](const CallContext& call) -> absl::Status {
                       ASSIGN_OR_RETURN(*resp, repository_->SetStatementMapping(call, *req));
                       return absl::OkStatus();
                     });
}

grpc::ServerUnaryReactor* ReportingService::GetStatementMapping(
    grpc::CallbackServerContext* ctx, const v1::GetStatementMappingRequest* req,
    v1::StatementMapping* resp) {
  (void)req;
  return HandleUnary(ctx, env_, "GetStatementMapping",
                     [=, this](const CallContext& call) -> absl::Status {
                       ASSIGN_OR_RETURN(*resp, repository_->GetStatementMapping(call));
                       return absl::OkStatus();
                     });
}

absl::StatusOr<v1::ReceivablesAgeing> ReportingService::Ageing(
    const CallContext& call, const v1::GetReceivablesAgeingRequest& req) {
  if (!options_.receivables) {
    return absl::FailedPreconditionError(
        "receivables ageing needs the cell's invoicing: start reporting with --invoicing_addr");
  }
  RETURN_IF_ERROR(ValidateAgeingRequest(req));
  return options_.receivables(call, req);
}

grpc::ServerUnaryReactor* ReportingService::GetReceivablesAgeing(
    grpc::CallbackServerContext* ctx, const v1::GetReceivablesAgeingRequest* req,
    v1::ReceivablesAgeing* resp) {
  return HandleUnary(ctx, env_, "GetReceivablesAgeing",
                     [=, this](const CallContext& call) -> absl::Status {
                       const absl::Time start = absl::Now();
                       ASSIGN_OR_RETURN(*resp, Ageing(call, *req));
                       if (metrics_ != nullptr) {
                         metrics_->Report("receivables-ageing", absl::Now() - start);
                       }
                       return absl::OkStatus();
                     });
}

grpc::ServerUnaryReactor* ReportingService::ExportReport(grpc::CallbackServerContext* ctx,
                                                         const v1::ExportReportRequest* req,
                                                         v1::ExportReportResponse* resp) {
  return HandleUnary(ctx, env_, "ExportReport", [=, this](const CallContext& call) -> absl::Status {
    const absl::Time start = absl::Now();
    if (req->format() == v1::EXPORT_FORMAT_UNSPECIFIED) {
      return InvalidField("format", "required: CSV, JSON or HTML");
    }
    if (req->format() == v1::EXPORT_FORMAT_HTML &&
        req->report_case() != v1::ExportReportRequest::kIncomeStatement &&
        req->report_case() != v1::ExportReportRequest::kBalanceSheet) {
      return InvalidField("format", "HTML is for the income statement and the balance sheet");
    }
    // The report is computed exactly as its own RPC computes it; field names in errors carry
    // the oneof's name ("trial_balance.scope.from_date").
    auto in = [](absl::string_view prefix, const absl::Status& status) {
      return status.code() == absl::StatusCode::kInvalidArgument
                 ? absl::InvalidArgumentError(absl::StrCat(prefix, ".", status.message()))
                 : status;
    };
    AnyReport any;
    v1::TrialBalance tb;
    v1::Statement statement;
    v1::CostCentreReport cost_centre;
    v1::BudgetReport budget;
    v1::PayrollCosts payroll;
    v1::ReceivablesAgeing ageing;
    switch (req->report_case()) {
      case v1::ExportReportRequest::kTrialBalance: {
        RETURN_IF_ERROR(
            in("trial_balance", AwaitSequence(call, req->trial_balance().scope().min_sequence())));
        absl::StatusOr<v1::TrialBalance> r =
            repository_->GetTrialBalance(call, req->trial_balance());
        if (!r.ok()) return in("trial_balance", r.status());
        tb = *std::move(r);
        any = {.kind = "trial-balance", .trial_balance = &tb};
        break;
      }
      case v1::ExportReportRequest::kIncomeStatement: {
        RETURN_IF_ERROR(in("income_statement",
                           AwaitSequence(call, req->income_statement().scope().min_sequence())));
        absl::StatusOr<v1::Statement> r =
            repository_->GetIncomeStatement(call, req->income_statement());
        if (!r.ok()) return in("income_statement", r.status());
        statement = *std::move(r);
        any = {.kind = "income-statement", .statement = &statement};
        break;
      }
      case v1::ExportReportRequest::kBalanceSheet: {
        RETURN_IF_ERROR(
            in("balance_sheet", AwaitSequence(call, req->balance_sheet().scope().min_sequence())));
        absl::StatusOr<v1::Statement> r = repository_->GetBalanceSheet(call, req->balance_sheet());
        if (!r.ok()) return in("balance_sheet", r.status());
        statement = *std::move(r);
        any = {.kind = "balance-sheet", .statement = &statement};
        break;
      }
      case v1::ExportReportRequest::kCostCentre: {
        RETURN_IF_ERROR(
            in("cost_centre", AwaitSequence(call, req->cost_centre().scope().min_sequence())));
        absl::StatusOr<v1::CostCentreReport> r =
            repository_->GetCostCentreReport(call, req->cost_centre());
        if (!r.ok()) return in("cost_centre", r.status());
        cost_centre = *std::move(r);
        any = {.kind = "cost-centre", .cost_centre = &cost_centre};
        break;
      }
      case v1::ExportReportRequest::kBudget: {
        RETURN_IF_ERROR(in("budget", AwaitSequence(call, req->budget().scope().min_sequence())));
        absl::StatusOr<v1::BudgetReport> r = repository_->GetBudgetReport(call, req->budget());
        if (!r.ok()) return in("budget", r.status());
        budget = *std::move(r);
        any = {.kind = "budget", .budget = &budget};
        break;
      }
      case v1::ExportReportRequest::kPayrollCosts: {
        RETURN_IF_ERROR(
            in("payroll_costs", AwaitSequence(call, req->payroll_costs().scope().min_sequence())));
        absl::StatusOr<v1::PayrollCosts> r =
            repository_->GetPayrollCosts(call, req->payroll_costs());
        if (!r.ok()) return in("payroll_costs", r.status());
        payroll = *std::move(r);
        any = {.kind = "payroll-costs", .payroll_costs = &payroll};
        break;
      }
      case v1::ExportReportRequest::kReceivablesAgeing: {
        absl::StatusOr<v1::ReceivablesAgeing> r = Ageing(call, req->receivables_ageing());
        if (!r.ok()) return in("receivables_ageing", r.status());
        ageing = *std::move(r);
        any = {.kind = "receivables-ageing", .receivables_ageing = &ageing};
        break;
      }
      default:
        return InvalidField("report", "required: one of the report requests");
    }
    ASSIGN_OR_RETURN(*resp, RenderExport(any, req->format()));
    if (metrics_ != nullptr) metrics_->Report("export", absl::Now() - start);
    return absl::OkStatus();
  });
}

#undef TAHE_REPORT

grpc::ServerUnaryReactor* ReportingService::HandleCellWide(
    grpc::CallbackServerContext* ctx, absl::string_view method,
    std::function<absl::Status(const CallContext&)> fn) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<CallContext> call =
      env_.auth->Authenticate(*ctx, method, /*require_tenant=*/false);
  if (!call.ok()) {
    reactor->Finish(ToGrpcStatus(call.status()));
    return reactor;
  }
  if (!call->tenant.empty() && !server::IsValidTenantSlug(call->tenant)) {
    reactor->Finish(ToGrpcStatus(
        absl::InvalidArgumentError("metadata x-tahe-tenant: not a valid organisation slug")));
    return reactor;
  }
  server::RunUnaryOnWorkers(ctx, reactor, *env_.workers, *std::move(call), std::move(fn));
  return reactor;
}

grpc::ServerUnaryReactor* ReportingService::GetRegionalReport(
    grpc::CallbackServerContext* ctx, const v1::GetRegionalReportRequest* req,
    v1::RegionalReport* resp) {
  return HandleCellWide(ctx, "GetRegionalReport",
                        [=, this](const CallContext& call) -> absl::Status {
                          const absl::Time start = absl::Now();
                          ASSIGN_OR_RETURN(*resp, repository_->GetRegionalReport(call, *req));
                          if (metrics_ != nullptr)
                            metrics_->Report("regional", absl::Now() - start);
                          return absl::OkStatus();
                        });
}

grpc::ServerUnaryReactor* ReportingService::GetFeedStatus(grpc::CallbackServerContext* ctx,
                                                          const v1::GetFeedStatusRequest* req,
                                                          v1::FeedStatus* resp) {
  (void)req;
  return HandleCellWide(ctx, "GetFeedStatus", [=, this](const CallContext& call) -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<Checkpoint> checkpoints, repository_->Checkpoints(call));
    std::map<std::string, LedgerFollower::TenantStatus> seen;
    if (follower_ != nullptr) {
      for (LedgerFollower::TenantStatus& s : follower_->Status()) {
        seen[s.tenant] = std::move(s);
      }
    }
    v1::FeedStatus out;
    for (const Checkpoint& cp : checkpoints) {
      v1::TenantFeedStatus* t = out.add_tenants();
      t->set_tenant(cp.tenant);
      t->set_applied_sequence(cp.last_sequence);
      auto it = seen.find(cp.tenant);
      if (it != seen.end()) {
        t->set_ledger_sequence(it->second.ledger_sequence);
        t->set_events_behind(std::max<int64_t>(0, it->second.ledger_sequence - cp.last_sequence));
        t->set_seconds_behind(t->events_behind() > 0 ? it->second.seconds_behind : 0);
      }
      out.set_events_behind(out.events_behind() + t->events_behind());
      out.set_seconds_behind(std::max(out.seconds_behind(), t->seconds_behind()));
    }
    *resp = std::move(out);
    return absl::OkStatus();
  });
}

}  // namespace tahe::reporting
