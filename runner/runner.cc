// Placeholder: the campaign runner (issue 5) goes here.
namespace faultline::runner {}
