# tahe_invoicing_domain: the pure invoicing rules (VAT rates by delivery date, line amounts and VAT
# per rate group, due dates, payment references, penalty interest, reminders, receivables ageing,
# series codes). No gRPC, no SQL, no protobuf.
add_library(tahe_invoicing_domain invoicing_domain.cc vat_rates.cc interest.cc)
target_link_libraries(tahe_invoicing_domain
  PUBLIC tahe_money tahe_status absl::time absl::strings absl::statusor absl::span
  PRIVATE tahe_fi)

tahe_test(tahe_invoicing_domain_test
          SRCS invoicing_domain_test.cc vat_rates_test.cc interest_test.cc
          LIBS tahe_invoicing_domain)
