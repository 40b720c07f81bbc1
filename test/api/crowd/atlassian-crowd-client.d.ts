/** The parts of atlassian-crowd-client (plain JavaScript, no types of its own) the tests use. */
declare module 'atlassian-crowd-client' {
  interface CrowdUser {
    username: string;
    firstname: string;
    lastname: string;
    displayname: string;
    email: string;
    active: boolean;
    attributes: Record<string, string>;
  }
  interface CrowdGroup {
    groupname: string;
    description: string;
    active: boolean;
  }
  interface Membership<T> {
    list(name: string, nested?: boolean, startIndex?: number, maxResults?: number): Promise<T[]>;
  }
  export default class CrowdClient {
    constructor(settings: {
      baseUrl: string;
      application: { name: string; password: string };
      attributesParser?: (v: string) => unknown;
    });
    user: {
      get(username: string, withAttributes?: boolean): Promise<CrowdUser>;
      remove(username: string): Promise<void>;
      groups: Membership<string>;
    };
    group: {
      get(groupname: string): Promise<CrowdGroup>;
      users: Membership<string>;
      children: Membership<string>;
      parents: Membership<string>;
      membership(): Promise<string>;
    };
    search: {
      user(
        restriction: string,
        expand?: boolean,
        startIndex?: number,
        maxResults?: number,
      ): Promise<string[]>;
      group(
        restriction: string,
        expand?: boolean,
        startIndex?: number,
        maxResults?: number,
      ): Promise<string[]>;
    };
    authentication: { authenticate(username: string, password: string): Promise<CrowdUser> };
    config: { cookie(): Promise<{ name: string; domain: string; secure: boolean }> };
  }
}
