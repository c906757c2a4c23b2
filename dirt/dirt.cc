// Placeholder: DiRT drills (issue 6) go here.
namespace faultline::dirt {}
